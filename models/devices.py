"""Which device and dtype models use, how much memory the model cache may fill, and what the runtime can do.

Decided once and lazily (asking torch costs seconds at import). `torch_dtype` picks bf16 only where the GPU
computes it natively (compute capability ≥ 8.0: Ampere and newer); a T4 (7.5) gets fp16 even though
`torch.cuda.is_bf16_supported()` may say yes. `cache_budget_bytes` turns `GATEWAY_CACHE_BUDGET_GB` (a number
or `auto`) into bytes: on a GPU its memory minus headroom for activations, on CPU half the RAM.
`runtime_info` is the start-up block's facts: torch and CUDA, the GPU, the dtype, onnxruntime's providers, and
a loud warning when an NVIDIA GPU is present but torch cannot use it.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

GIB = 2**30
GPU_HEADROOM_FRACTION = 0.15
GPU_HEADROOM_MIN = int(1.5 * GIB)
CPU_FRACTION = 0.5


@functools.lru_cache(maxsize=None)
def resolve_device(setting: str = "auto") -> str:
    """'auto' → 'cuda' when a CUDA GPU is visible, else 'mps' on Apple silicon, else 'cpu'."""
    if setting and setting != "auto":
        return setting
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def compute_capability(device: str) -> tuple[int, int] | None:
    import torch

    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability(torch.device(device)))


def torch_dtype(device: str):
    """bf16 on CUDA GPUs with compute capability ≥ 8.0, fp16 on older GPUs and MPS, fp32 on CPU."""
    import torch

    if device.startswith("cuda"):
        capability = compute_capability(device)
        return torch.bfloat16 if capability is not None and capability >= (8, 0) else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def nvidia_gpu_present() -> bool:
    """An NVIDIA GPU on this machine, whether or not torch can use it (driver files, no torch needed)."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def nvidia_driver() -> dict | None:
    """The NVIDIA driver's version and the newest CUDA it supports, without torch: the kernel module's version
    file (or nvidia-smi) and libcuda's cuDriverGetVersion. None where there is no NVIDIA driver."""
    version = None
    try:
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", Path("/proc/driver/nvidia/version").read_text())
        version = match.group(1) if match else None
    except OSError:
        pass
    if version is None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10)
            version = out.stdout.strip().splitlines()[0].strip() if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            pass
    cuda = None
    try:
        import ctypes

        number = ctypes.c_int(0)
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(number)) == 0 and number.value:
            cuda = f"{number.value // 1000}.{number.value % 1000 // 10}"
    except (OSError, AttributeError):
        pass
    return {"version": version, "cuda": cuda} if version or cuda else None


def total_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def device_memory_bytes(device: str) -> int:
    """Memory models on `device` live in: the GPU's total memory, else the machine's RAM."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    return total_ram_bytes()


def auto_budget_bytes(device: str, memory: int | None = None) -> int:
    memory = device_memory_bytes(device) if memory is None else memory
    if device.startswith("cuda"):
        return max(GIB, memory - max(GPU_HEADROOM_MIN, int(memory * GPU_HEADROOM_FRACTION)))
    return max(GIB, int(memory * CPU_FRACTION))


def cache_budget_bytes(setting, device: str) -> int:
    """GATEWAY_CACHE_BUDGET_GB as bytes: a number of GiB, or 'auto' (from the device's memory)."""
    text = str(setting).strip().lower()
    if text in ("", "auto"):
        return auto_budget_bytes(device)
    try:
        return int(float(text) * GIB)
    except ValueError:
        raise ValueError(f"GATEWAY_CACHE_BUDGET_GB={setting!r} is neither a number of GiB nor 'auto'") from None


@functools.lru_cache(maxsize=None)
def runtime_info(device_setting: str = "auto") -> dict:
    """What this process can run on (imports torch and onnxruntime: call it once, off the request path)."""
    info: dict = {"nvidia_gpu_present": nvidia_gpu_present(), "nvidia_driver": nvidia_driver(), "warnings": []}
    try:
        import torch
    except ImportError:
        torch = None
        info.update(torch=None, cuda_available=False)
    if torch is not None:
        info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
    device = resolve_device(device_setting)
    info["device"] = device
    if torch is not None:
        info["dtype"] = str(torch_dtype(device)).replace("torch.", "")
        if device.startswith("cuda") and torch.cuda.is_available():
            props = torch.cuda.get_device_properties(torch.device(device))
            info.update(gpu=props.name, compute_capability="%d.%d" % compute_capability(device),
                        gpu_memory_gb=round(props.total_memory / GIB, 1))
    if info["nvidia_gpu_present"] and not info["cuda_available"]:
        info["warnings"].append(_unusable_gpu_warning(torch, info["nvidia_driver"]))
    if device_setting not in ("", "auto") and device_setting.startswith("cuda") and not info["cuda_available"]:
        info["warnings"].append(f"GATEWAY_DEVICE={device_setting} but CUDA is not available: model loads will fail.")
    try:
        import onnxruntime

        providers = onnxruntime.get_available_providers()
        info.update(onnxruntime=onnxruntime.__version__, onnx_providers=providers)
        if info["cuda_available"] and "CUDAExecutionProvider" not in providers:
            info["warnings"].append("onnxruntime has no CUDAExecutionProvider: the ONNX backends (rembg, style "
                                    "transfer, InsightFace) run on the CPU. Install onnxruntime-gpu instead of "
                                    "onnxruntime (the Docker image does).")
    except ImportError:
        info.update(onnxruntime=None, onnx_providers=[])
    return info


def _unusable_gpu_warning(torch, driver: dict | None) -> str:
    """An NVIDIA GPU torch cannot use: why, and the exact requirement lines that fix it."""
    from core.targets import fix_for_driver

    driver_text = (f"NVIDIA driver {driver.get('version') or '?'} (supports CUDA ≤ {driver.get('cuda') or '?'})"
                   if driver else "an NVIDIA driver")
    if torch is None:
        return (f"An NVIDIA GPU is present ({driver_text}) but torch is not installed. "
                "Fix: pip install -r requirements.txt")
    built = f"torch {torch.__version__} (CUDA build {torch.version.cuda or 'none: a CPU build'})"
    return (f"An NVIDIA GPU is present ({driver_text}) but {built} cannot use it: models run on the CPU, slowly. "
            f"Fix: {fix_for_driver(torch.__version__, (driver or {}).get('cuda'))}.")


def onnx_providers(device: str, available: list[str]) -> list[str]:
    """The execution providers an ONNX backend asks for on `device`, given what onnxruntime offers."""
    wants_gpu = device in ("", "auto") or device.startswith("cuda")
    if wants_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
