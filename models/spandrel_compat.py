"""`import_spandrel()`: the spandrel package, also where torchvision is not installed (the CPU install).

spandrel (Real-ESRGAN, LaMa, GFPGAN/RestoreFormer) imports torchvision at module level for two architectures
only: LaMa's optional learnable rotation (`rotate`, `InterpolationMode`; big-lama does not use it) and
RestoreFormer's input normalisation (`normalize`, in the descriptor's call wrapper, which the face restorer
bypasses). PyPI's torchvision wheels are CUDA builds: beside a CPU torch they fail to import and then break
diffusers and transformers too. So the CPU install (requirements-cpu.txt) leaves torchvision out and installs
spandrel without its dependencies, and here, when torchvision is absent, a stand-in with those three names
exists only while spandrel is imported and is removed right after: nothing else ever sees a torchvision, and
the stand-in `rotate` raises if a model ever needs it. With torchvision installed (every GPU install) this is
a plain `import spandrel`. Every import of spandrel in the gateway goes through here first.
"""

from __future__ import annotations

import enum
import importlib.util
import sys
import threading
import types

_lock = threading.Lock()
_STAND_IN = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _rotate(*args, **kwargs):
    raise RuntimeError("this model rotates its input with torchvision, which is not installed (CPU install): "
                       "install torch and torchvision as a pair (pip install -r requirements.txt)")


def _normalize(tensor, mean, std, inplace=False):
    import torch

    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    return tensor.sub_(mean).div_(std) if inplace else (tensor - mean) / std


def _stand_in() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name) for name in _STAND_IN}
    functional = modules["torchvision.transforms.functional"]
    functional.InterpolationMode, functional.rotate, functional.normalize = InterpolationMode, _rotate, _normalize
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision.transforms"].functional = functional
    return modules


def torchvision_installed() -> bool:
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"] is not None  # None: deliberately blocked
    return importlib.util.find_spec("torchvision") is not None


def import_spandrel():
    """The spandrel module (imported once; later imports of spandrel anywhere find it in sys.modules)."""
    if sys.modules.get("spandrel") is not None:
        return sys.modules["spandrel"]
    with _lock:
        if torchvision_installed():
            import spandrel

            return spandrel
        stand_in, before = _stand_in(), {name: sys.modules[name] for name in _STAND_IN if name in sys.modules}
        sys.modules.update(stand_in)
        try:
            import spandrel
        finally:
            for name in _STAND_IN:  # as it was: absent, or blocked
                if name in before:
                    sys.modules[name] = before[name]
                else:
                    sys.modules.pop(name, None)
        return spandrel
