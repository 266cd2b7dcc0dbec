"""Growing a detected object's mask to its real extent beyond the detector's box.

A YOLO box is drawn around the bulk of a thing, and GrabCut seeded by it (detector.object_mask) treats
everything outside the box as background, so what sticks out stays behind when the thing is erased: the
espresso cup's handle hangs 40 px below its box, and "erase the cup" left a stub of it. Here the mask may
grow into a ring around the box, from where it meets the box's edge, through pixels whose colour is nearer
to the object's own colours than to the colours around it (k-means clusters in Lab of the mask and of the
rest of the crop). The red saucer under the red cup fills most of the ring, so its colours are the
surroundings' and it is not taken; the handle's darker red is the cup's.
"""

from __future__ import annotations

RING = 0.25  # how far beyond the box the object may reach, as a share of the box's larger side
CLUSTERS = 5


def grow_beyond_box(rgb, mask, box):
    """bool H x W: `mask` (the object inside `box`) plus the pixels connected to it across the box's edge that
    look like the object rather than its surroundings."""
    import cv2
    import numpy as np

    height, width = mask.shape
    x0, y0, x1, y1 = box
    reach = RING * max(x1 - x0, y1 - y0)
    cx0, cy0 = max(0, int(x0 - reach)), max(0, int(y0 - reach))
    cx1, cy1 = min(width, int(np.ceil(x1 + reach))), min(height, int(np.ceil(y1 + reach)))
    crop_mask = mask[cy0:cy1, cx0:cx1]
    if crop_mask.sum() < CLUSTERS * 4 or (~crop_mask).sum() < CLUSTERS * 4:
        return mask
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    near_object = _nearest(lab, lab[crop_mask]) < _nearest(lab, lab[~crop_mask])
    inside = np.zeros(crop_mask.shape, bool)
    inside[max(0, round(y0) - cy0):round(y1) - cy0, max(0, round(x0) - cx0):round(x1) - cx0] = True
    candidate = near_object | crop_mask
    count, parts = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    touching = np.unique(parts[crop_mask])
    grown = np.isin(parts, touching[touching > 0]) | crop_mask
    out = mask.copy()
    out[cy0:cy1, cx0:cx1] |= grown
    return out


def _nearest(lab, samples):
    """Distance of every pixel of `lab` (h x w x 3) to the nearest of CLUSTERS k-means centres of `samples`."""
    import cv2
    import numpy as np

    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    step = max(1, len(samples) // 4000)
    _compact, _labels, centres = cv2.kmeans(np.ascontiguousarray(samples[::step]), CLUSTERS, None, criteria, 2,
                                            cv2.KMEANS_PP_CENTERS)
    flat = lab.reshape(-1, 3)
    return np.min(np.linalg.norm(flat[:, None, :] - centres[None, :, :], axis=2), axis=1).reshape(lab.shape[:2])
