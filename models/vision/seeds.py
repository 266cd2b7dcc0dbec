"""GrabCut seeds for a subject that a detector boxed, and the clean-up of frame-edge strips after the cut.

`box_labels`: a box is not an outline, and a close-up subject (a pet's face, a person's torso) runs off the
frame, so the frame's border is not all background. Sure subject is the ellipse inside the box; the border is
sure background where the box keeps clear of that side, and elsewhere only where its colour is unlike every
colour of the subject's core (k-means clusters in Lab): the cat's cheek and chest at the edge of a close-up
stay undecided and GrabCut gives them back, while the blurred wall behind it is background (the `chelsea` cat:
IoU 0.73 with the box alone, 0.87 with this). Everything else is undecided.

`drop_edge_strips`: a flag or a door frame at the side of a portrait has the colours of the clothes and touches
the frame, so GrabCut keeps it as a thin strip along the edge. Parts that a morphological opening (a disk a
few percent of the image wide) removes and that touch the left or right edge are dropped; a real arm or
shoulder cut by the frame is wider than the disk and stays.

`merge_instance`: an instance mask from the segmentation network (instances.py) added to other seeds: its
confident core is sure subject, the rest of it probable subject, a ring around it probable background.

`open_sides`: the frame seed takes a band along every side as sure background, which is wrong where the subject
runs off the frame: the Eiffel tower's lit base fills the bottom of `tower.jpg`, its orange then trains GrabCut's
background model and three quarters of the tower were cut away (IoU 0.25). A side most of whose band is unlike
the colours of all three other sides (nearest of a few k-means clusters in Lab, farther than nearly all of the
other sides' own pixels) is where the subject leaves the frame: there only the colours the other sides share are
probable background and the rest is undecided (tower: 87 % of the bottom band unlike → IoU 0.95; on the other
bench photos no side passes 66 %).
"""

from __future__ import annotations

TOUCH = 0.07  # a box side this close to the frame: the subject may run off that side (YOLOv4-tiny boxes are loose)
CORE = 0.3  # sure-subject ellipse: this share of the box's half-sizes
BAND = 0.04  # the border band, as a share of the image's sides
CLUSTERS = 6
UNLIKE_PERCENTILE = 98  # a border colour farther from the core's clusters than 98% of the core is background
STRIP_WIDTH = 0.07  # disk diameter of the opening, as a share of the image's short side
INSTANCE_CORE = 0.85  # an instance mask's probability from which (after a small erosion) it is sure subject
INSTANCE_RING = 0.06  # probable background this share of the short side around a merged instance mask
OPEN_SIDE_SHARE = 0.75  # a side band with more than this share unlike the other sides is the subject's
SIDE_PERCENTILE = 90


def box_labels(small_rgb, box):
    """GrabCut labels (uint8) for a subject in `box` (left, top, right, bottom, in `small_rgb` pixels)."""
    import cv2
    import numpy as np

    height, width = small_rgb.shape[:2]
    labels = np.full((height, width), cv2.GC_PR_FGD, np.uint8)
    x0, y0, x1, y1 = box
    centre = (round((x0 + x1) / 2), round((y0 + y1) / 2))
    axes = (max(1, round((x1 - x0) / 2 * CORE)), max(1, round((y1 - y0) / 2 * CORE)))
    cv2.ellipse(labels, centre, axes, 0, 0, 360, int(cv2.GC_FGD), -1)
    band_y, band_x = max(1, round(height * BAND)), max(1, round(width * BAND))
    sides = {"left": (slice(None), slice(0, band_x), x0 <= TOUCH * width),
             "top": (slice(0, band_y), slice(None), y0 <= TOUCH * height),
             "right": (slice(None), slice(width - band_x, width), x1 >= (1 - TOUCH) * width),
             "bottom": (slice(height - band_y, height), slice(None), y1 >= (1 - TOUCH) * height)}
    unlike = _unlike_core(small_rgb, labels == cv2.GC_FGD)
    for rows, cols, touched in sides.values():
        region = labels[rows, cols]
        # Where the box keeps clear the side is background; where it reaches the side only the colours the
        # subject does not have are. A side it reaches but whose colours are all the subject's stays undecided.
        region[unlike[rows, cols] | (not touched)] = cv2.GC_BGD
    # the ellipse wins over a band it crosses    cv2.ellipse(labels, centre, axes, 0, 0, 360, int(cv2.GC_FGD), -1)
    return labels


def _unlike_core(small_rgb, core):
    """bool mask: pixels whose Lab colour is farther from every core cluster than nearly all core pixels."""
    import cv2
    import numpy as np

    lab = cv2.cvtColor(small_rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    samples = lab[core.ravel()]
    if len(samples) < CLUSTERS * 4:
        return np.zeros(core.shape, bool)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _compact, _labels, centres = cv2.kmeans(samples, CLUSTERS, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    distance = _distance(lab, centres)
    limit = np.percentile(distance[core.ravel()], UNLIKE_PERCENTILE)
    return (distance > limit).reshape(core.shape)


def drop_edge_strips(hard):
    """`hard` (bool) without the thin parts that touch its left or right edge."""
    import cv2
    import numpy as np

    height, width = hard.shape
    size = max(3, round(STRIP_WIDTH * min(height, width))) | 1
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    mask = hard.astype(np.uint8)
    thin = (mask > 0) & (cv2.morphologyEx(mask, cv2.MORPH_OPEN, disk) == 0)
    count, parts = cv2.connectedComponents(thin.astype(np.uint8), connectivity=8)
    out = hard.copy()
    for index in range(1, count):
        part = parts == index
        if part[:, 0].any() or part[:, -1].any():
            out[part] = False
    return out


def extend_to_frame(hard, band: float = BAND):
    """`hard` with the subject carried across the border band wherever it reaches the band's inner edge: a frame-
    seeded cut takes the band as sure background, so a subject that runs off the frame (a tower's foot, a
    cameraman's coat) would otherwise stop a band's width short of the edge."""
    import numpy as np

    out = hard.copy()
    height, width = hard.shape
    by, bx = max(1, round(height * band)), max(1, round(width * band))
    out[:by, :] |= hard[by, :][None, :]
    out[height - by:, :] |= hard[height - by - 1, :][None, :]
    out[:, :bx] |= hard[:, bx][:, None]
    out[:, width - bx:] |= hard[:, width - bx - 1][:, None]
    return out


def merge_instance(labels, soft):
    """GrabCut `labels` (uint8, changed in place and returned) with an instance mask `soft` (float, same size) added:
    what the mask covers is at least probable subject, its eroded confident core sure subject, and a ring around
    it at least probable background."""
    import cv2
    import numpy as np

    height, width = labels.shape
    inside = soft > 0.5
    size = max(3, round(INSTANCE_RING * min(height, width))) | 1
    near = cv2.dilate(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    labels[(labels == cv2.GC_BGD) & near] = cv2.GC_PR_BGD
    labels[np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD)) & inside] = cv2.GC_PR_FGD
    core = cv2.erode((soft > INSTANCE_CORE).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    labels[core] = cv2.GC_FGD
    return labels


def open_sides(small_rgb, labels, band: float = BAND) -> list[str]:
    """Where the subject runs off the frame, turn the frame seed's sure-background band (`labels`, changed in
    place) into probable background for the colours the other sides share and undecided for the rest. Returns
    the sides opened ("top", "bottom", "left", "right")."""
    import cv2
    import numpy as np

    height, width = labels.shape
    by, bx = max(1, round(height * band)), max(1, round(width * band))
    sides = {"top": (slice(0, by), slice(None)), "bottom": (slice(height - by, height), slice(None)),
             "left": (slice(None), slice(0, bx)), "right": (slice(None), slice(width - bx, width))}
    lab = cv2.cvtColor(np.ascontiguousarray(small_rgb[..., :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    opened = []
    for name, (rows, cols) in sides.items():
        others = np.concatenate([lab[r, c].reshape(-1, 3) for n, (r, c) in sides.items() if n != name])
        centres = _clusters(others)
        own_distance = _distance(lab[rows, cols].reshape(-1, 3), centres)
        unlike = own_distance > np.percentile(_distance(others, centres), SIDE_PERCENTILE)
        if unlike.mean() <= OPEN_SIDE_SHARE:
            continue
        region = labels[rows, cols]
        region[(region == cv2.GC_BGD) & unlike.reshape(region.shape)] = cv2.GC_PR_FGD
        region[region == cv2.GC_BGD] = cv2.GC_PR_BGD
        opened.append(name)
    return opened


def _clusters(samples):
    import cv2
    import numpy as np

    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    step = max(1, len(samples) // 4000)
    count = min(CLUSTERS, len(samples[::step]))
    _compact, _labels, centres = cv2.kmeans(np.ascontiguousarray(samples[::step]), count, None, criteria, 2,
                                            cv2.KMEANS_PP_CENTERS)
    return centres


def _distance(samples, centres):
    import numpy as np

    return np.min(np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2), axis=1)
