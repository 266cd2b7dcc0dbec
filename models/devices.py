"""Which device and dtype models use, decided once and lazily (asking torch costs seconds at import)."""

from __future__ import annotations

import functools


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


def torch_dtype(device: str):
    """fp16 on CUDA/MPS (bf16 where the GPU supports it well), fp32 on CPU."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32
