"""YOLOv5-seg's layers in torch, imported only when the network is loaded (models/vision/yolo_seg_net.py).

The forward passes follow the published YOLOv5 v7.0 architecture: Conv = conv + batch norm + SiLU, C3 /
Bottleneck CSP blocks, SPPF pooling, and the Segment head (anchor boxes, 80 class scores and 32 mask coefficients
per anchor, plus a 32-channel prototype map at 1/4 of the input). `LAYERS` maps the (module, name) the checkpoint
pickles each class under to the class here. This module imports torch at its top, so nothing imports it at
module level (tests/test_boundaries.py checks both).
"""

from __future__ import annotations

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


LAYERS = {("models.yolo", "Detect"): Detect, ("models.common", "Conv"): Conv,
        ("models.common", "Bottleneck"): Bottleneck, ("models.common", "C3"): C3, ("models.common", "SPPF"): SPPF,
        ("models.common", "Concat"): Concat, ("models.common", "Proto"): Proto, ("models.yolo", "Segment"): Segment,
        ("models.yolo", "SegmentationModel"): SegmentationModel}
