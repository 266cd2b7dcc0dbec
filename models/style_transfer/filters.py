"""Classical looks with no model: pencil sketch, coloured pencil, charcoal, cartoon and pixel art.

OpenCV's non-photorealistic rendering functions (`pencilSketch`, edge-preserving smoothing, adaptive
thresholds) and Pillow's palette quantisation do the work; the results are labelled as filters so nobody takes
them for a neural style. Each function takes and returns an RGB `PIL.Image` at the working size. OpenCV is
imported inside the functions.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def _cv2():
    import cv2

    return cv2


SKETCH_BLACK = 60  # the darkest grey the dodge sees
SKETCH_SHADE = 0.35  # how much of the photo's broad tone shades the paper


def pencil_sketch(rgb: Image.Image) -> Image.Image:
    cv2 = _cv2()
    gray = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
    # Black pixels stay black under a colour dodge (0 / anything), so dark clothes and shadows came out as solid
    # black blocks: lift the blacks first, then shade the paper lightly with the photo's broad tones instead.
    lifted = (SKETCH_BLACK + gray.astype(np.float32) * (255 - SKETCH_BLACK) / 255).astype(np.uint8)
    sketch = _gamma(_dodge(lifted, sigma=max(2.0, max(gray.shape) / 200)), 1.6).astype(np.float32)
    tone = cv2.GaussianBlur(gray, (0, 0), max(2.0, max(gray.shape) / 60)).astype(np.float32) / 255
    shaded = sketch * (1 - SKETCH_SHADE + SKETCH_SHADE * tone)
    return Image.fromarray(np.clip(shaded, 0, 255).astype(np.uint8)).convert("RGB")


def colour_pencil(rgb: Image.Image) -> Image.Image:
    """Dark pencil strokes over soft, washed-out colour, like crayon on paper."""
    cv2 = _cv2()
    arr = np.asarray(rgb)
    gray = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    long_side = max(gray.shape)
    strokes = _gamma(_dodge(gray, sigma=max(2.0, long_side / 200)), 2.5).astype(np.float32) / 255.0
    soft = cv2.GaussianBlur(arr, (0, 0), max(2.0, long_side / 150)).astype(np.float32)
    paper_colour = soft * 0.6 + 255.0 * 0.4
    return Image.fromarray(np.clip(paper_colour * strokes[:, :, None], 0, 255).astype(np.uint8))


def charcoal(rgb: Image.Image) -> Image.Image:
    """Broad dark strokes (a wide dodge, thickened) over smudged tone, with a little paper grain."""
    cv2 = _cv2()
    gray = cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2GRAY)
    long_side = max(gray.shape)
    strokes = _gamma(_dodge(gray, sigma=max(3.0, long_side / 90)), 3.5)
    strokes = cv2.erode(strokes, np.ones((3, 3), np.uint8))  # a stick of charcoal is wider than a pencil
    tone = cv2.GaussianBlur(gray, (0, 0), max(3.0, long_side / 60)).astype(np.float32) / 255.0
    shaded = strokes.astype(np.float32) * (0.45 + 0.55 * tone)
    grain = np.random.default_rng(0).normal(0.0, 9.0, gray.shape).astype(np.float32)  # fixed seed: same input, same output
    out = cv2.GaussianBlur(np.clip(shaded + grain, 0, 255).astype(np.uint8), (0, 0), 0.8)
    return Image.fromarray(out).convert("RGB")


def cartoon(rgb: Image.Image) -> Image.Image:
    """Flat colour regions (edge-preserving smoothing + quantisation) under dark outlines."""
    cv2 = _cv2()
    bgr = _bgr(rgb)
    smooth = cv2.edgePreservingFilter(bgr, flags=cv2.RECURS_FILTER, sigma_s=60, sigma_r=0.4)
    for _ in range(2):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 7)
    levels = 6  # colour steps per channel: flat like cel painting, enough to keep skin and sky apart
    step = 256 // levels
    flat = (smooth // step * step + step // 2).astype(np.uint8)
    gray = cv2.medianBlur(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 7)
    block = max(9, (max(gray.shape) // 90) | 1)
    edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5)
    return _from_bgr(cv2.bitwise_and(flat, flat, mask=edges))


def pixel_art(rgb: Image.Image, cells_on_long_side: int = 80, colours: int = 24) -> Image.Image:
    """Big square pixels in a small palette; scale the result back with NEAREST to keep the blocks crisp."""
    w, h = rgb.size
    cell = max(1, max(w, h) // cells_on_long_side)
    small = rgb.resize((max(1, w // cell), max(1, h // cell)), Image.BOX)
    small = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
    return small.resize((w, h), Image.NEAREST)


FILTERS = {
    "pencil_sketch": pencil_sketch,
    "colour_pencil": colour_pencil,
    "charcoal": charcoal,
    "cartoon": cartoon,
    "pixel_art": pixel_art,
}
NEAREST_RESAMPLE = {"pixel_art"}  # looks whose hard edges must survive the resize back


def _dodge(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Colour dodge of the grey image by its blurred negative: flat areas go white, edges stay as strokes."""
    cv2 = _cv2()
    blurred_negative = cv2.GaussianBlur(255 - gray, (0, 0), sigma)
    return cv2.divide(gray, 255 - blurred_negative, scale=256)


def _gamma(gray: np.ndarray, gamma: float) -> np.ndarray:
    table = (255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)  # a lookup: 20x faster than pow per pixel
    return table[gray]


def _bgr(rgb: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def _from_bgr(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
