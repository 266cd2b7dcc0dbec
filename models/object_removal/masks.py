"""Masks for object removal: a painted mask made usable, a text-grounding heatmap turned into the named
object's pixels (honouring left/right/top/bottom/middle), dilation so edges do not ghost, and the crop box
around the mask that the inpainter works on.

All functions take and return numpy arrays (bool masks, H x W); OpenCV and scipy are imported inside the
functions that need them.
"""

from __future__ import annotations

import numpy as np

PAINT_LEVEL = 32  # soft brush edges count as painted
MIN_COMPONENT_FRACTION = 0.002  # grounding specks smaller than this share of the image are noise
_DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "top": (0.0, -1.0), "bottom": (0.0, 1.0)}


def painted_mask(mask_image, size: tuple[int, int]) -> np.ndarray:
    """A PIL mask (any mode; white/opaque = erase) as a bool array of the image's size."""
    from PIL import Image

    if mask_image.mode in ("RGBA", "LA") and mask_image.getextrema()[-1][0] < 255:
        grey = mask_image.getchannel("A")  # a brush layer: the painted strokes are the opaque pixels
    else:
        grey = mask_image if mask_image.mode == "L" else mask_image.convert("L")
    if grey.size != tuple(size):
        grey = grey.resize(tuple(size), Image.Resampling.NEAREST)
    return np.asarray(grey) > PAINT_LEVEL


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow the mask by `radius` pixels with a round kernel."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def position_score(position: str, centroid: tuple[float, float]) -> float:
    """Higher is a better match of a component's centroid (x, y in [0, 1]) to the named position."""
    cx, cy = centroid
    words = position.split()
    if words == ["middle"]:
        return -((cx - 0.5) ** 2 + (cy - 0.5) ** 2)
    score = 0.0
    for word in words:
        dx, dy = _DIRECTIONS.get(word, (0.0, 0.0))
        score += dx * cx + dy * cy
    return score


def select_components(heatmap: np.ndarray, threshold: float, position: str | None = None) -> np.ndarray:
    """Pixels of the named object: the heatmap's connected regions above `threshold`, all of them, or with a
    position only the region that lies most in that direction. Empty when nothing passes."""
    from scipy import ndimage

    above = heatmap >= threshold
    labels, count = ndimage.label(above)
    if count == 0:
        return np.zeros_like(above)
    ids = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(above, labels, ids)
    keep = [i for i, size in zip(ids, sizes) if size >= MIN_COMPONENT_FRACTION * heatmap.size]
    if not keep:
        return np.zeros_like(above)
    if position:
        height, width = heatmap.shape
        centroids = ndimage.center_of_mass(above, labels, keep)
        best = max(zip(keep, centroids), key=lambda kc: position_score(position, (kc[1][1] / width, kc[1][0] / height)))
        keep = [best[0]]
    return np.isin(labels, keep)


def crop_box(mask: np.ndarray, *, margin_fraction: float = 0.5, min_margin: int = 48) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the mask's bounding box grown by context on every side, clipped to the image."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    margin = max(min_margin, int(margin_fraction * max(y1 - y0, x1 - x0)))
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)
