"""Optional face restoration after a neural swap: GFPGAN / RestoreFormer weights loaded with spandrel.

inswapper works at 128×128, so swapped faces look soft in large photos; a face restoration model (a spandrel
`FaceSR` descriptor) sharpens them. Each swapped face is aligned to the FFHQ 512×512 template from its five
key points, restored, and pasted back through the inverse transform with a feathered mask, blended by
`strength`. The paste-back takes any `restore_crop(rgb512) -> rgb512` callable, so it works (and is tested)
without torch. Only used when weights are configured and present.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

CROP_SIZE = 512
# facexlib's FFHQ template (eye centres, nose tip, mouth corners) for 512×512 crops, as GFPGAN was trained.
FFHQ_TEMPLATE_512 = np.array([[192.98138, 239.94708], [318.90277, 240.19366], [256.63416, 314.01935],
                              [201.26117, 371.41043], [313.08905, 371.15118]], dtype=np.float32)


def load_restorer(path, device: str) -> Callable[[np.ndarray], np.ndarray]:
    """A `restore_crop` function built from GFPGAN/RestoreFormer weights at `path` (spandrel detects the arch)."""
    import torch

    from models.spandrel_compat import import_spandrel

    import_spandrel()  # also without torchvision (the CPU install)
    from spandrel import ModelLoader

    descriptor = ModelLoader(device=torch.device(device)).load_from_file(str(path))
    if descriptor.purpose != "FaceSR":
        raise ValueError(f"{path} holds a {descriptor.architecture.name} model for {descriptor.purpose}, "
                         "not a face restoration model (GFPGAN, RestoreFormer)")
    descriptor.model.eval()

    def restore_crop(crop: np.ndarray) -> np.ndarray:
        # These models take and return images in [-1, 1] (spandrel's wrapper assumes [0, 1]): call the module.
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        with torch.inference_mode():
            y = descriptor.model(x.to(descriptor.device))
        y = y[0] if isinstance(y, (tuple, list)) else y
        return ((y.clamp(-1, 1) + 1) * 127.5).round().byte()[0].permute(1, 2, 0).cpu().numpy()

    return restore_crop


def restore_faces(rgb: np.ndarray, key_points: list[np.ndarray], restore_crop: Callable[[np.ndarray], np.ndarray],
                  strength: float = 1.0) -> np.ndarray:
    """`rgb` with every face (5 key points each) restored and blended back; pixels away from faces untouched."""
    import cv2

    out = rgb.copy()
    h, w = rgb.shape[:2]
    for points in key_points:
        matrix, _ = cv2.estimateAffinePartial2D(np.asarray(points, np.float32), FFHQ_TEMPLATE_512, method=cv2.LMEDS)
        if matrix is None:
            continue
        crop = cv2.warpAffine(out, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)
        restored = restore_crop(crop)
        inverse = cv2.invertAffineTransform(matrix)
        back = cv2.warpAffine(restored, inverse, (w, h), flags=cv2.INTER_LINEAR)
        mask = np.zeros((CROP_SIZE, CROP_SIZE), np.float32)
        edge = CROP_SIZE // 16
        mask[edge:-edge, edge:-edge] = 1.0
        mask = cv2.GaussianBlur(mask, (2 * edge + 1, 2 * edge + 1), 0)
        alpha = cv2.warpAffine(mask, inverse, (w, h), flags=cv2.INTER_LINEAR)[..., None] * float(strength)
        region = alpha[..., 0] > 0
        mixed = back.astype(np.float32) * alpha + out.astype(np.float32) * (1.0 - alpha)
        out[region] = np.clip(np.rint(mixed[region]), 0, 255).astype(np.uint8)
    return out
