# The two commands of the README: `make demo` and `make test`. Both set everything up first.
RUN_DIR ?= runs/seed_cnn
MODEL ?= seed_cnn
TINYCNN := .venv/bin/tinycnn

ZOO ?= small

.PHONY: setup demo demo-zoo test lint clean

setup:
	bash scripts/setup.sh

demo: setup
	$(TINYCNN) train --model $(MODEL) --out $(RUN_DIR) --force
	$(TINYCNN) quantize $(RUN_DIR)
	$(TINYCNN) evaluate $(RUN_DIR)
	$(TINYCNN) verify $(RUN_DIR) --images 1000
	$(TINYCNN) export $(RUN_DIR) --board qemu_m4 --out $(RUN_DIR)/qemu_fw --force
	$(TINYCNN) emulate $(RUN_DIR)/qemu_fw/firmware.elf --model $(RUN_DIR) --monitor --validate 300
	$(TINYCNN) report $(RUN_DIR)

# The pretrained path: no training; a shipped int8 model from verify to a validated board.
demo-zoo: setup
	$(TINYCNN) zoo
	$(TINYCNN) verify zoo:$(ZOO) --images 1000
	$(TINYCNN) export zoo:$(ZOO) --board qemu_m4 --out runs/zoo_$(ZOO)_fw --force
	$(TINYCNN) emulate runs/zoo_$(ZOO)_fw/firmware.elf --model zoo:$(ZOO) --monitor --validate 300
	$(TINYCNN) report zoo:$(ZOO) --out runs/zoo_$(ZOO)_report.html

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check tinycnn tests benchmarks examples

clean:
	rm -rf runs .pytest_cache
