"""The real photos the benchmarks and the quality report use, all shipped inside installed packages (no
download): scikit-image's `astronaut`, `coffee`, `chelsea`, `rocket` and `stereo_motorcycle`, matplotlib's
Grace Hopper portrait and scikit-learn's `flower.jpg`; plus hand-outlined subjects for mask quality (IoU and
boundary F-measure), in the original photos' pixel coordinates, rough to a few pixels.
"""

from __future__ import annotations

from pathlib import Path


def _ellipse(cx, cy, a, b, n=48):
    import math

    return [(cx + a * math.cos(2 * math.pi * i / n), cy + b * math.sin(2 * math.pi * i / n)) for i in range(n)]


# Hand-outlined subjects (pixel coordinates of the original photos); rough to a few pixels.
OUTLINES = {
    "astronaut": ("person", [[(230, 15), (265, 18), (290, 40), (300, 75), (298, 100), (285, 125), (275, 145),
                              (295, 165), (305, 200), (303, 240), (330, 250), (350, 280), (360, 330), (380, 345),
                              (420, 340), (460, 350), (490, 380), (505, 420), (512, 440), (512, 512), (20, 512),
                              (22, 430), (25, 380), (35, 330), (45, 290), (55, 255), (80, 230), (115, 205),
                              (120, 190), (130, 170), (150, 155), (170, 150), (175, 130), (165, 110), (155, 80),
                              (160, 50), (185, 25)]]),
    "grace_hopper": ("person", [[(262, 22), (300, 35), (340, 60), (352, 80), (370, 90), (372, 130), (365, 160),
                                 (375, 180), (370, 230), (355, 280), (335, 305), (340, 320), (400, 350), (470, 375),
                                 (495, 395), (512, 420), (512, 600), (15, 600), (20, 520), (30, 440), (50, 385),
                                 (80, 370), (150, 345), (190, 325), (200, 310), (175, 285), (160, 240), (155, 200),
                                 (150, 160), (150, 120), (160, 90), (175, 70), (210, 40)]]),
    "coffee": ("object", [_ellipse(278, 230, 203, 158),
                          [(175, 100), (180, 50), (220, 25), (280, 18), (350, 25), (395, 55), (405, 100), (300, 120)],
                          [(395, 100), (410, 68), (425, 65), (420, 110)]]),
    "chelsea": ("animal", [[(30, 0), (400, 0), (385, 35), (362, 75), (362, 120), (360, 170), (345, 210),
                            (330, 250), (320, 300), (0, 300), (0, 90), (15, 60)]]),
}

OUTLINES["motorcycle"] = ("object", [[
    (92, 195), (145, 160), (230, 165), (330, 190), (400, 160), (460, 150), (500, 120), (520, 100), (560, 120),
    (580, 130), (575, 160), (550, 200), (560, 250), (600, 270), (640, 280), (670, 320), (685, 380), (670, 430),
    (630, 450), (580, 440), (545, 410), (520, 370), (480, 360), (440, 370), (380, 380), (345, 375), (340, 400),
    (340, 435), (325, 437), (320, 400), (290, 380), (250, 390), (200, 400), (150, 390), (125, 350), (120, 300),
    (130, 260), (110, 240), (95, 230)]])
OUTLINES["flower"] = ("object", [_ellipse(307, 222, 139, 138)])

# Parts of a photo, for "erase the cup": the espresso cup alone (rim, body and handle; not the saucer or the
# spoon), and the saucer it stands on (the coffee outline's ellipse less the cup).
PARTS = {
    "coffee_cup": ("coffee", [[(175, 100), (185, 70), (205, 45), (240, 27), (290, 19), (340, 24), (380, 40), (402, 65),
                               (410, 100), (405, 140), (398, 180), (385, 210), (365, 240), (345, 260), (320, 270),
                               (290, 275), (262, 272), (258, 290), (250, 303), (230, 306), (205, 300), (195, 285),
                               (198, 260), (205, 240), (212, 232), (200, 225), (190, 205), (182, 175), (176, 140)]]),
    "coffee_saucer_and_cup": ("coffee", [_ellipse(278, 230, 203, 158)]),
}


def photo(name: str, side: int | None = None):
    """The named photo as PIL RGB, optionally resized so its long side is `side`."""
    from PIL import Image

    if name == "grace_hopper":
        import matplotlib

        image = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    elif name == "flower":
        import sklearn.datasets

        image = Image.fromarray(sklearn.datasets.load_sample_image("flower.jpg"))
    elif name == "motorcycle":
        from skimage import data

        image = Image.fromarray(data.stereo_motorcycle()[0])
    else:
        from skimage import data

        image = Image.fromarray(getattr(data, name)())
    if side:
        scale = side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    return image


def outline_mask(size, polygons, scale: float = 1.0):
    """bool HxW mask of the outlined subject, for an image of `size` (the photo scaled by `scale`)."""
    import numpy as np
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for polygon in polygons:
        draw.polygon([(float(x) * scale, float(y) * scale) for x, y in polygon], fill=255)
    return np.asarray(mask) > 127


def boundary_f(predicted, truth, tolerance: int = 3) -> float:
    """Boundary F-measure (as in DAVIS): how much of each contour lies within `tolerance` px of the other."""
    import cv2
    import numpy as np

    def contour(mask):
        mask = mask.astype(np.uint8)
        return (mask - cv2.erode(mask, np.ones((3, 3), np.uint8))) > 0

    cp, ct = contour(predicted), contour(truth)
    if not cp.any() or not ct.any():
        return 0.0
    near = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
    precision = (cp & (cv2.dilate(ct.astype(np.uint8), near) > 0)).sum() / cp.sum()
    recall = (ct & (cv2.dilate(cp.astype(np.uint8), near) > 0)).sum() / ct.sum()
    return float(2 * precision * recall / max(precision + recall, 1e-9))
