"""Multi-worker training on this machine: the same request (model, seed, epochs, global batch)
in one process and as two `--strategy multiworker` workers on localhost; wall time and accuracy.

    .venv/bin/python benchmarks/distribute.py            # every configuration not yet measured
    .venv/bin/python benchmarks/distribute.py --report   # distribute.md from distribute.json

Resumable: each configuration's figures land in distribute.json when it finishes, and a
finished one is skipped. Runs live in runs/distribute/NAME. Wall time counts from the start of
the first process to the exit of the last (TensorFlow's import, the dataset, the cluster
forming, training and the test evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from history import with_history

from tinycnn.training.distribute import free_localhost_ports

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "distribute"
RESULTS = Path(__file__).resolve().parent / "distribute.json"
REPORT = Path(__file__).resolve().parent / "distribute.md"
TIMEOUT_S = 3 * 3600

# name: (workers, threads per process, `tinycnn train` arguments)
SEED_CNN = "--model seed_cnn --epochs 5 --batch-size 128 --seed 0".split()
SEED_CNN_512 = "--model seed_cnn --epochs 5 --batch-size 512 --seed 0".split()
SMALL = "--model mobilenet_tiny --width 2 --epochs 2 --batch-size 128 --seed 0".split()
CONFIGS: dict[str, tuple[int, int, list[str]]] = {
    "seed_cnn, 1 process, 2 threads": (1, 2, SEED_CNN),
    "seed_cnn, 2 workers, 1 thread each": (2, 1, SEED_CNN),
    "seed_cnn, 1 process, 1 thread": (1, 1, SEED_CNN),
    "seed_cnn batch 512, 1 process, 2 threads": (1, 2, SEED_CNN_512),
    "seed_cnn batch 512, 2 workers, 1 thread each": (2, 1, SEED_CNN_512),
    "mobilenet_tiny x2, 1 process, 2 threads": (1, 2, SMALL),
    "mobilenet_tiny x2, 2 workers, 1 thread each": (2, 1, SMALL),
}


def measure(name: str, workers: int, threads: int, args: list[str]) -> dict:
    run_dir = RUNS / name.replace(", ", "_").replace(" ", "-")
    shutil.rmtree(run_dir, ignore_errors=True)
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}
    command = [sys.executable, "-m", "tinycnn", "train", *args, "--out", str(run_dir)]
    if workers > 1:
        ports = free_localhost_ports(workers)
        cluster = ",".join(f"localhost:{port}" for port in ports)
        commands = [
            [*command, "--strategy", "multiworker", "--workers", cluster, "--worker-index", str(i)]
            for i in range(workers)
        ]
    else:
        commands = [command]
    started = time.perf_counter()
    processes = [subprocess.Popen(c, env=env, start_new_session=True) for c in commands]
    try:
        statuses = [process.wait(timeout=TIMEOUT_S) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 9)
    wall_s = time.perf_counter() - started
    if any(statuses):
        raise SystemExit(f"{name}: a process failed ({statuses})")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "workers": workers,
        "threads_per_process": threads,
        "command": " ".join(commands[0]),
        "wall_s": round(wall_s, 1),
        "mean_epoch_s": round(metrics["mean_epoch_seconds"], 2),
        "test_accuracy": metrics["test_accuracy"],
        "val_accuracy": metrics["val_accuracy"],
        "epochs": metrics["epochs_run"],
        "parameters": metrics["parameters"],
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "date": time.strftime("%Y-%m-%d"),
    }


def report(results: dict) -> str:
    lines = [
        "# Multi-worker training on one machine",
        "",
        "Written by `benchmarks/distribute.py` from `distribute.json`. Same model, seed, epochs",
        "and global batch in each pair; wall time from the first process's start to the last",
        "one's exit.",
        "",
        "| configuration | wall s | s/epoch | test accuracy | val accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['wall_s']:.1f} | {row['mean_epoch_s']:.2f} | "
            f"{100 * row['test_accuracy']:.2f} % | {100 * row['val_accuracy']:.2f} % |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only write distribute.md")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop the workers
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not options.report:
        for name, (workers, threads, args) in CONFIGS.items():
            if name in results:
                print(f"{name}: measured, skipped")
                continue
            print(f"{name}: training", flush=True)
            results[name] = measure(name, workers, threads, args)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
            print(f"{name}: {results[name]['wall_s']} s wall", flush=True)
    REPORT.write_text(with_history(REPORT, report(results)))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
