"""The real photos the benchmarks and the quality report use, all shipped inside installed packages (no
download): scikit-image's `astronaut`, `coffee`, `chelsea`, `camera`, `rocket` and `stereo_motorcycle`,
matplotlib's Grace Hopper portrait, scikit-learn's `flower.jpg` and gradio's `cheetah.jpg` and `tower.jpg`; plus hand-outlined subjects for mask quality (IoU and
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
# Traced on 4-8x enlargements with a 5-10 px grid: the running cheetah with its tail and legs (gradio's
# `cheetah.jpg`), the cameraman with his camera and tripod (the gap between his legs is background), and the
# Eiffel tower's silhouette with its lattice taken as solid (gradio's `tower.jpg`; the branches are background).
OUTLINES["cheetah"] = ("animal", [[
    (84, 139), (92, 136), (100, 140), (110, 145), (120, 151), (130, 156), (140, 159), (150, 161), (160, 162),
    (170, 162), (180, 160), (190, 157), (198, 154), (205, 145), (212, 138), (222, 132), (235, 128), (250, 125),
    (265, 125), (280, 128), (300, 131), (320, 132), (335, 128), (343, 125), (347, 119), (351, 116), (355, 120),
    (363, 125), (370, 130), (374, 137), (377, 144), (376, 148), (371, 151), (366, 154), (360, 156), (353, 156),
    (347, 153), (342, 158), (336, 165), (330, 172), (324, 180), (316, 187), (305, 190), (295, 190), (292, 197),
    (292, 206), (289, 214), (295, 221), (305, 223), (307, 227), (300, 230), (286, 230), (274, 228), (262, 226),
    (256, 222), (245, 221), (232, 221), (222, 223), (218, 224), (219, 219), (226, 216), (236, 214), (231, 210),
    (228, 200), (229, 190), (231, 182), (222, 178), (210, 177), (200, 173), (192, 170), (182, 174), (172, 176),
    (160, 175), (150, 171), (140, 168), (130, 165), (120, 160), (110, 155), (100, 149), (92, 145), (86, 143)]])
OUTLINES["camera"] = ("person", [
    [(0, 255), (5, 250), (13, 240), (25, 220), (37, 200), (50, 180), (62, 160), (75, 145), (90, 135), (105, 128),
     (120, 122), (132, 115), (148, 105), (160, 100), (163, 95), (168, 85),
     (178, 74), (190, 66), (205, 62), (220, 64), (235, 69), (248, 77), (258, 88), (265, 100), (268, 112),
     (266, 124), (260, 132), (257, 138), (258, 142), (272, 140), (295, 139), (318, 138), (323, 141), (324, 152),
     (320, 160), (322, 166), (330, 172), (333, 185), (330, 198), (322, 205), (307, 207), (305, 230), (303, 260),
     (300, 285), (300, 310), (280, 313), (250, 312), (220, 305), (205, 300), (190, 330), (165, 360), (150, 380),
     (148, 400), (147, 430), (148, 460), (148, 490), (149, 512), (137, 512), (132, 495), (125, 480), (115, 465),
     (105, 455), (98, 446), (94, 470), (91, 512), (0, 512)],
    [(287, 200), (298, 200), (298, 482), (289, 482)],  # the tripod's column
    [(280, 315), (312, 315), (312, 340), (280, 340)],  # its head
    [(281, 330), (289, 332), (243, 505), (235, 505)],  # left leg
    [(303, 330), (311, 330), (405, 505), (397, 507)],  # right leg
    [(305, 300), (337, 298), (338, 306), (306, 310)]])  # pan handle
OUTLINES["tower"] = ("object", [[
    (214, 58), (219, 75), (228, 82), (239, 88), (240, 100), (236, 112), (240, 150), (245, 200), (253, 250),
    (265, 300), (280, 350), (293, 380), (300, 395), (315, 410), (330, 425), (330, 440), (322, 448), (325, 500),
    (350, 540), (370, 585), (377, 600), (30, 600), (45, 565), (60, 530), (75, 500), (90, 475), (98, 450),
    (100, 440), (97, 425), (105, 418), (122, 405), (133, 395), (145, 360), (160, 300), (172, 250), (180, 200),
    (186, 150), (190, 112), (189, 100), (190, 88), (204, 80), (210, 70)]])

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
    elif name in ("cheetah", "tower"):
        import gradio

        image = Image.open(Path(gradio.__file__).parent / "media_assets" / "images" / f"{name}.jpg").convert("RGB")
    elif name == "camera":
        from skimage import data

        image = Image.fromarray(data.camera()).convert("RGB")
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
