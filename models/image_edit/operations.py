"""The basic edits as pure functions on PIL images, plus the geometry that picks crop boxes and output sizes.

Every function takes an RGB or RGBA image and returns a new image of the same mode. Colour and detail
operations (brightness, contrast, saturation, grayscale, sepia, sharpen) touch the colour channels only and put
the alpha channel back unchanged, because `ImageEnhance` would otherwise blend the alpha towards black or opaque.
Blur works on premultiplied alpha ("RGBa") so transparent pixels do not bleed dark fringes into the edges.
Rotations by multiples of 90° are exact transposes; other angles use bicubic resampling on an expanded canvas.
"""

from __future__ import annotations

import math

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

# UnsharpMask (radius, percent, threshold) per strength; "medium" is a visible but halo-free default.
SHARPEN_PRESETS = {"light": (1.0, 80, 2), "medium": (2.0, 150, 3), "strong": (3.0, 250, 2)}
_TRANSPOSE_CCW = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                  270: Image.Transpose.ROTATE_270}

Box = tuple[int, int, int, int]


def rotate(image: Image.Image, degrees_ccw: float, *, expand: bool = True, fill=None) -> Image.Image:
    """Rotate counter-clockwise (PIL's sense); `fill` colours the uncovered corners (None = transparent/black)."""
    quarter = degrees_ccw % 360
    if quarter == 0:
        return image.copy()
    if quarter in _TRANSPOSE_CCW and (expand or quarter == 180):
        return image.transpose(_TRANSPOSE_CCW[int(quarter)])
    return image.rotate(degrees_ccw, resample=Image.Resampling.BICUBIC, expand=expand, fillcolor=fill)


def rotated_size(size: tuple[int, int], degrees_ccw: float) -> tuple[int, int]:
    """Canvas size of an expanded rotation, within a pixel of what Pillow makes (for limit checks)."""
    width, height = size
    cos, sin = abs(math.cos(math.radians(degrees_ccw))), abs(math.sin(math.radians(degrees_ccw)))
    return math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos)


def flip(image: Image.Image, axis: str) -> Image.Image:
    return ImageOps.mirror(image) if axis == "horizontal" else ImageOps.flip(image)


def crop(image: Image.Image, box: Box) -> Image.Image:
    return image.crop(box)


def clamp_box(size: tuple[int, int], box) -> Box | None:
    """`box` limited to the image; None when nothing of it is inside."""
    width, height = size
    left, top, right, bottom = (int(round(v)) for v in box)
    left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
    return (left, top, right, bottom) if right > left and bottom > top else None


def centred_aspect_box(size: tuple[int, int], ratio_w: float, ratio_h: float) -> Box:
    """The largest centred box with aspect ratio_w:ratio_h."""
    width, height = size
    target = ratio_w / ratio_h
    if width / height > target:
        box_w, box_h = max(1, round(height * target)), height
    else:
        box_w, box_h = width, max(1, round(width / target))
    return centred_size_box(size, box_w, box_h)


def centred_size_box(size: tuple[int, int], box_w: int, box_h: int) -> Box:
    width, height = size
    box_w, box_h = min(box_w, width), min(box_h, height)
    left, top = (width - box_w) // 2, (height - box_h) // 2
    return left, top, left + box_w, top + box_h


def margins_box(size: tuple[int, int], margins: dict[str, float]) -> Box:
    """Box left after cutting `margins` (percent of the width or height) off the named sides."""
    width, height = size
    left = round(width * margins.get("left", 0) / 100)
    right = width - round(width * margins.get("right", 0) / 100)
    top = round(height * margins.get("top", 0) / 100)
    bottom = height - round(height * margins.get("bottom", 0) / 100)
    return left, top, right, bottom


def resize_target(size: tuple[int, int], *, width: int | None = None, height: int | None = None,
                  scale: float | None = None, long_side: int | None = None) -> tuple[int, int]:
    """Output size: both sides exact, one side with the aspect kept, a scale factor, or the longer side."""
    w, h = size
    if width and height:
        return int(width), int(height)
    if width:
        return int(width), max(1, round(h * width / w))
    if height:
        return max(1, round(w * height / h)), int(height)
    if long_side:
        scale = long_side / max(w, h)
    if scale:
        return max(1, round(w * scale)), max(1, round(h * scale))
    raise ValueError("resize_target needs width, height, scale or long_side")


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.mode == "RGBA":  # premultiplied, so transparent pixels' colours do not leak into the edges
        return image.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
    return image.resize(size, Image.Resampling.LANCZOS)


def adjust_brightness(image: Image.Image, factor: float) -> Image.Image:
    return _on_colour(image, lambda rgb: ImageEnhance.Brightness(rgb).enhance(factor))


def adjust_contrast(image: Image.Image, factor: float) -> Image.Image:
    return _on_colour(image, lambda rgb: ImageEnhance.Contrast(rgb).enhance(factor))


def adjust_saturation(image: Image.Image, factor: float) -> Image.Image:
    return _on_colour(image, lambda rgb: ImageEnhance.Color(rgb).enhance(factor))


def grayscale(image: Image.Image) -> Image.Image:
    """Grey pixels in three equal channels, so models downstream still get RGB (or RGBA)."""
    return _on_colour(image, lambda rgb: ImageOps.grayscale(rgb).convert("RGB"))


# The classic sepia toning matrix (rows: output R, G, B from input R, G, B); values above 255 clip to white.
SEPIA_MATRIX = (0.393, 0.769, 0.189, 0,
                0.349, 0.686, 0.168, 0,
                0.272, 0.534, 0.131, 0)


def sepia(image: Image.Image) -> Image.Image:
    """Warm brown monochrome, as an old print: the sepia matrix on the colour channels."""
    return _on_colour(image, lambda rgb: rgb.convert("RGB", SEPIA_MATRIX))


def blur(image: Image.Image, radius: float) -> Image.Image:
    gaussian = ImageFilter.GaussianBlur(radius)
    if image.mode == "RGBA":
        return image.convert("RGBa").filter(gaussian).convert("RGBA")
    return image.filter(gaussian)


def sharpen(image: Image.Image, strength: str = "medium") -> Image.Image:
    radius, percent, threshold = SHARPEN_PRESETS[strength]
    unsharp = ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=threshold)
    return _on_colour(image, lambda rgb: rgb.filter(unsharp))


def _on_colour(image: Image.Image, change) -> Image.Image:
    """Apply `change` to the RGB channels and keep the alpha channel as it was."""
    if image.mode != "RGBA":
        return change(image.convert("RGB") if image.mode != "RGB" else image)
    out = change(image.convert("RGB"))
    out.putalpha(image.getchannel("A"))
    return out
