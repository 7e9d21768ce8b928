"""Flash, RAM and speed of a model's firmware: the figures of docs/firmware.md's flash/RAM table.

    .venv/bin/python benchmarks/firmware.py runs/seed_cnn [--images 10]

Exports the bare-metal qemu_m4 firmware and the nano33 sketch into a temporary folder, asks
the tflite-micro interpreter for its arena, then boots the firmware in QEMU with
``-icount shift=0`` and reads its predictions of the embedded test images. Under icount one
instruction takes one virtual nanosecond and the board's SysTick counts instructions, so a
prediction's ``us`` times 1000 is the instructions one inference took (to 1000).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from tinycnn.board.emulate import qemu_command, read_lines
from tinycnn.codegen.export import export, resolve_source
from tinycnn.model.interpreters import tflm_arena_bytes

PRED_US = re.compile(r"TC[12] PRED id=\d+ .* us=(\d+) src=demo")  # protocol 1 or 2
BOOT_TIMEOUT_S = 300.0


def inference_microseconds(elf: Path, images: int) -> list[int]:
    """Boot the firmware, return the board-timer microseconds of its first ``images``
    predictions (bounded by BOOT_TIMEOUT_S)."""

    def timings(lines: list[str]) -> list[int]:
        return [int(m.group(1)) for m in map(PRED_US.search, lines) if m]

    lines = read_lines(
        qemu_command(elf, serial="stdio"), lambda got: len(timings(got)) >= images, BOOT_TIMEOUT_S
    )
    found = timings(lines)
    if len(found) < images:
        sys.exit(f"the firmware printed {len(found)} of {images} predictions in time")
    return found[:images]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="RUN_DIR or MODEL.tflite")
    parser.add_argument("--images", type=int, default=10, help="embedded test images to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        qemu = export(args.target, "qemu_m4", Path(work) / "qemu", test_images=args.images)
        nano = export(args.target, "nano33", Path(work) / "nano33")
        content = resolve_source(args.target, 1).content
        tflm_bytes = tflm_arena_bytes(content)
        timings = inference_microseconds(qemu.elf_path, args.images)
    sections = qemu.elf_sections
    instructions = sum(timings) * 1000 // len(timings)
    rows = [
        (
            "runtime code: the kernels this model uses (`-Os`, Cortex-M4)",
            qemu.flash.items["runtime code"],
        ),
        ("weights, biases, multipliers and shifts (const, flash)", qemu.flash.items["weights"]),
        ("the `.tflite` file (what TFLM would keep in flash instead)", len(content)),
        ("activation arena, planned", qemu.planned_arena_bytes),
        ("activation arena, lower bound (most bytes alive at once)", qemu.lower_bound_bytes),
        ("TFLM arena for the same model (tflite-micro `print_allocations`)", tflm_bytes),
        (
            f"`qemu_m4` firmware.elf (`-O2`, {args.images} test images): text / data / bss",
            f"{sections['text']:,} / {sections['data']:,} / {sections['bss']:,}",
        ),
        (
            "`nano33` budget printed by export: flash / RAM",
            f"{nano.flash.total_bytes:,} of {nano.flash.available_bytes:,} / "
            f"{nano.ram.total_bytes:,} of {nano.ram.available_bytes:,}",
        ),
        (
            f"instructions per inference (QEMU icount, mean of {args.images})",
            f"{instructions:,} (min {min(timings) * 1000:,}, max {max(timings) * 1000:,})",
        ),
    ]
    print("| item | bytes |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value if isinstance(value, str) else f'{value:,}'} |")


if __name__ == "__main__":
    main()
