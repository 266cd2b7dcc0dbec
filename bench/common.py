"""Plumbing shared by the wrapper-vs-raw benchmarks (bench_upscale.py, bench_object_removal.py): one-thread,
offline environment and the repository on sys.path (`setup`), this process's peak RSS from VmHWM
(`peak_rss_mb`), interleaved timing of callables (`interleaved`), the command line with its hidden `--case`
(`parse_args`, `print_case`), one case per subprocess (`subprocess_case`), a temporary folder for random
weights (`weights_dir`), and the rows and table of wrapper and raw times (`measure_rows`, `print_rows`). The
scripts run as `python bench/bench_x.py`, so bench/ is sys.path[0] and they import this as `common`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("wrapper", "raw")


def setup() -> None:
    """One thread for the numeric libraries, no Hugging Face downloads, the repository importable; call before
    anything imports numpy or torch."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    for var, value in {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                       "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(var, value)
    sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ru_maxrss carries the parent's peak across fork+exec, VmHWM does not."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def interleaved(fns: dict, repeats: int) -> dict:
    """name → (median wall s, best CPU s), the callables timed in turn (so both see the same machine load)
    for at least `repeats` rounds and 3 s. On a shared CPU, other processes only ever add time (to the wall
    clock and, through caches and frequency, to CPU time too), so the best CPU time is the steadiest figure."""
    walls = {name: [] for name in fns}
    cpus = {name: [] for name in fns}
    while True:
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
        rounds = len(next(iter(walls.values())))
        if rounds >= repeats and (sum(map(sum, walls.values())) >= 3.0 or rounds >= 50):
            return {name: (statistics.median(walls[name]), min(cpus[name])) for name in fns}


def parse_args(description: str, full_help: str) -> argparse.Namespace:
    """--device, --repeats, --full (help: `full_help`) and the hidden --case BACKEND:MODE:SIDE:WEIGHTS."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help=full_help)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    return parser.parse_args()


def print_case(case: str, run_case, device: str, repeats: int) -> None:
    """Runs one `--case` (BACKEND:MODE:SIDE:WEIGHTS) and prints its result as one JSON line."""
    backend, mode, side, weights = case.split(":", 3)
    print(json.dumps(run_case(backend, mode, int(side), device, repeats, weights or None)))


def subprocess_case(script: str, case: str, device: str, repeats: int) -> dict:
    """`script --case case` in its own process (so its peak RSS is its own); its last stdout line, parsed."""
    out = subprocess.run([sys.executable, script, "--device", device, "--repeats", str(repeats), "--case", case],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def weights_dir(prefix: str):
    """A temporary folder for random weights, removed afterwards (they are tens to hundreds of MB)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure_rows(script: str, backends, sides, slow: str, args, device: str, weights: str) -> list:
    """(backend, side, wrapper result or None when skipped, raw peak RSS MB) for each backend and side, each
    mode in its own subprocess; the `slow` backend runs 1 round on CPU and only up to 512² without --full."""
    rows = []
    for backend in backends:
        for side in sides:
            if backend == slow and side > 512 and device == "cpu" and not args.full:
                rows.append((backend, side, None, None))
                continue
            repeats = 1 if backend == slow and device == "cpu" else args.repeats
            result = {mode: subprocess_case(script, f"{backend}:{mode}:{side}:{weights}", device, repeats)
                      for mode in MODES}
            rows.append((backend, side, result["wrapper"], result["raw"]["peak_rss_mb"]))
    return rows


def print_rows(rows: list, device: str, side_column: str) -> None:
    """The markdown table of `measure_rows`; the ratio compares CPU times on CPU, wall times on a GPU."""
    print(f"| backend | {side_column} | model | wrapper s (CPU s) | raw s (CPU s) | ratio | wrapper peak RSS MB "
          "| raw peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, side, result, raw_peak in rows:
        if result is None:
            print(f"| {backend} | {side}² | skipped on CPU (use --full) | – | – | – | – | – |")
            continue
        (wall, cpu), (raw_wall, raw_cpu) = result["wrapper"], result["raw"]
        ratio = cpu / raw_cpu if device == "cpu" else wall / raw_wall  # on a GPU the CPU mostly waits
        print(f"| {backend} | {side}² | {result['model']} | {wall:.3f} ({cpu:.3f}) | {raw_wall:.3f} ({raw_cpu:.3f}) | "
              f"{ratio:.2f} | {result['peak_rss_mb']:.0f} | {raw_peak:.0f} |")
