"""The deployment targets and the torch / onnxruntime builds each installs: which CUDA, which NVIDIA driver.

PyPI's torch wheels for Linux are CUDA builds and name the CUDA runtime they require in their metadata: 2.8.0
to 2.10.0 require `nvidia-cuda-runtime-cu12==12.8.90` (CUDA 12.8), 2.11.0 and later `cuda-toolkit==13.0.x`
(CUDA 13.0). onnxruntime-gpu's `cuda` extra does the same: up to 1.26.0 CUDA 12, from 1.27.0 CUDA 13. Those
facts were read off the wheels' metadata on PyPI (`pip install --dry-run --report`, no wheel downloaded) and are
kept here; a test checks them against the torch installed where the tests run, reads every requirements
variant and the Dockerfile, and keeps the README's driver table (`targets_table()`) equal to them. A CUDA 12.x
build runs on any driver of the CUDA 12 branch or newer (NVIDIA's minor-version compatibility: ≥ 525.60.13 on
Linux); a CUDA 13.x build needs ≥ 580 — documented by NVIDIA, not verified here (no GPU). `fix_for_driver`
turns a driver too old for the installed torch into the exact requirement lines that fix it. Standard library
only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# PyPI build (Linux x86_64) -> the CUDA version its metadata requires.
TORCH_PYPI_CUDA = {"2.8": "12.8", "2.9": "12.8", "2.10": "12.8", "2.11": "13.0", "2.12": "13.0", "2.13": "13.0",
                   "2.14": "13.0"}
ONNXRUNTIME_GPU_CUDA_MAJOR = {**{f"1.{m}": 12 for m in range(19, 27)}, **{f"1.{m}": 13 for m in range(27, 32)}}
# Lowest driver each CUDA major runs on (NVIDIA's CUDA compatibility guide, minor-version compatibility, Linux).
MIN_DRIVER = {12: "525.60.13", 13: "580"}
# The GPU install's torch pair: what the runtime warning tells an operator to pin (a test keeps it equal to
# requirements.txt).
GPU_TORCH_PINS = ("torch==2.10.0", "torchvision==0.25.0")


def torch_cuda(version: str) -> str | None:
    """The CUDA version a torch build targets: its local label (`+cu128`, `+cpu`) or, for PyPI's, the table."""
    base, _, local = version.partition("+")
    if local:
        match = re.fullmatch(r"cu(\d+)(\d)", local)
        return f"{match.group(1)}.{match.group(2)}" if match else None  # cpu, rocm…: no CUDA
    return TORCH_PYPI_CUDA.get(".".join(base.split(".")[:2]))


def cuda_major(cuda: str | None) -> int | None:
    return int(cuda.split(".")[0]) if cuda else None


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file (names lower-case, comments and options skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            out[name.strip().lower()] = version.strip()
    return out


def dockerfile_onnxruntime_gpu(path: Path = ROOT / "Dockerfile") -> str | None:
    match = re.search(r"onnxruntime-gpu==([\w.]+)", path.read_text())
    return match.group(1) if match else None


@dataclass(frozen=True)
class Target:
    name: str
    requirements: str  # relative to the repository root
    python: str
    verified: str
    not_verified: str
    onnxruntime_gpu: bool = False  # the Dockerfile swaps onnxruntime-gpu in

    def torch(self) -> str:
        return pins(ROOT / self.requirements)["torch"]

    def cuda_major(self) -> int | None:
        return cuda_major(torch_cuda(self.torch()))

    def build(self) -> str:
        cuda = torch_cuda(self.torch())
        text = f"torch {self.torch()} ({f'CUDA {cuda}' if cuda else 'CPU only'})"
        if self.onnxruntime_gpu:
            text += f", onnxruntime-gpu {dockerfile_onnxruntime_gpu()}"
        return text

    def driver(self) -> str:
        major = self.cuda_major()
        return f"≥ {MIN_DRIVER[major]}" if major else "none (no GPU used)"


TARGETS = (
    Target("gradio-SDK GPU Space (this repository)", "requirements.txt", "3.11",
           "the wheel's CUDA from its PyPI metadata; the set installs in a fresh venv and the tests that load "
           "torch models pass on it (CPU)",
           "a Space build; the Space GPU's driver version (the docs name none); any GPU run"),
    Target("ZeroGPU Space", "deploy/zerogpu/requirements.txt", "3.12",
           "same torch as above (in ZeroGPU's supported 2.8–2.11); the set resolves from CPython 3.12 wheels "
           "(`pip install --dry-run`); the executor with a recording `spaces` stand-in and with the real "
           "`spaces` wrapper",
           "a ZeroGPU Space, its driver, quotas"),
    Target("Docker image", "requirements.txt", "3.11",
           "onnxruntime-gpu's CUDA major equals torch's (PyPI metadata; a test)",
           "building or running the image (no Docker engine here)", onnxruntime_gpu=True),
    Target("laptop / CPU only", "requirements-cpu.txt", "3.11",
           "a fresh venv from this line (torch's CPU wheel from a local copy of the index's file) and the whole "
           "test suite on it",
           "the install from PyTorch's CPU index itself (not reachable here); macOS and Windows"),
)


def targets_table() -> list[str]:
    lines = ["| target | requirements | Python | torch build | CUDA | NVIDIA driver | verified here | not verified |",
             "|---|---|---|---|---|---|---|---|"]
    for t in TARGETS:
        major = t.cuda_major()
        lines.append(f"| {t.name} | `{t.requirements}` | {t.python} | {t.build()} | {major or '–'} | {t.driver()} "
                     f"| {t.verified} | {t.not_verified} |")
    return lines


def fix_for_driver(torch_version: str, driver_cuda: str | None) -> str:
    """The requirement lines that make torch usable with a driver supporting CUDA ≤ `driver_cuda`."""
    built_for = torch_cuda(torch_version)
    if built_for is None:
        gpu_cuda = torch_cuda(GPU_TORCH_PINS[0].split("==")[1])
        return (f"torch {torch_version} is a CPU build: install the GPU set instead (`pip install -r "
                f"requirements.txt`: {', '.join(GPU_TORCH_PINS)}, CUDA {gpu_cuda})")
    if driver_cuda is not None and cuda_major(driver_cuda) < 12:
        return f"update the NVIDIA driver to ≥ {MIN_DRIVER[12]} (it supports CUDA ≤ {driver_cuda})"
    if driver_cuda is None or cuda_major(built_for) > cuda_major(driver_cuda):
        return (f"pin `{GPU_TORCH_PINS[0]}` and `{GPU_TORCH_PINS[1]}` in requirements.txt (CUDA 12.8 builds, driver "
                f"≥ {MIN_DRIVER[12]}) instead of torch {torch_version} (CUDA {built_for}, driver ≥ "
                f"{MIN_DRIVER[cuda_major(built_for)]}), or update the driver")
    return f"the driver supports CUDA {driver_cuda} and torch is built for CUDA {built_for}: check `nvidia-smi`"


if __name__ == "__main__":  # python -m core.targets: the README's driver table
    print("\n".join(targets_table()))
