# The two commands of the README: `make demo` and `make test`. Both set everything up first.
RUN_DIR ?= runs/seed_cnn
MODEL ?= seed_cnn
TINYCNN := .venv/bin/tinycnn

.PHONY: setup demo test lint clean

setup:
	bash scripts/setup.sh

demo: setup
	$(TINYCNN) train --model $(MODEL) --out $(RUN_DIR) --force
	$(TINYCNN) quantize $(RUN_DIR)
	$(TINYCNN) evaluate $(RUN_DIR)

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check tinycnn tests

clean:
	rm -rf runs .pytest_cache
