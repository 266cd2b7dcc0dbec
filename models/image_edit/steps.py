"""One edit step: check an operation's arguments, apply it with `operations`, and describe what was done.

`apply_edit(image, edit, max_output_pixels)` takes one parsed edit (`{"operation": "rotate", "angle": 90,
"direction": "clockwise"}`) and returns the new image, the arguments as actually used (the pixel box of a
crop, the corner fill of a rotation, the output size of a resize — what the recipe records) and a short
sentence for the user. Bad or missing arguments raise `InvalidInput` / `MissingInput` with a message that
says what would work; an output above the pixel limit is refused, never silently shrunk.
"""

from __future__ import annotations

from PIL import Image, ImageColor

from core.errors import CapabilityUnavailable, InvalidInput, MissingInput
from models.image_edit import operations as ops

_ASPECT_NAMES = {"square": "1:1", "widescreen": "16:9", "portrait": "3:4", "landscape": "4:3"}
_DIRECTIONS = {"clockwise": "clockwise", "cw": "clockwise", "right": "clockwise",
               "counterclockwise": "counterclockwise", "anticlockwise": "counterclockwise",
               "ccw": "counterclockwise", "left": "counterclockwise"}
_COLOUR_OPERATIONS = {"brightness": ops.adjust_brightness, "contrast": ops.adjust_contrast,
                      "saturation": ops.adjust_saturation}


def apply_edit(image: Image.Image, edit: dict, max_output_pixels: int) -> tuple[Image.Image, dict, str]:
    operation = edit.get("operation")
    step = _STEPS.get(operation)
    if step is None:
        raise InvalidInput(f"I don't know the edit {operation!r}; I can do: {', '.join(_STEPS)}.")
    return step(image, edit, max_output_pixels)


def _rotate(image, edit, max_output_pixels):
    angle = _float(edit.get("angle", 90), "angle")
    direction = _DIRECTIONS.get(str(edit.get("direction", "clockwise")).lower().replace("-", "").replace(" ", ""))
    if direction is None:
        raise InvalidInput(f"Rotation direction {edit.get('direction')!r} is not clockwise or counterclockwise.")
    if angle < 0:
        angle, direction = -angle, "counterclockwise" if direction == "clockwise" else "clockwise"
    expand = bool(edit.get("expand", True))
    fill_name, fill = _rotation_fill(image.mode, edit.get("fill"))
    if fill_name == "transparent" and image.mode != "RGBA":
        image = image.convert("RGBA")  # the user asked for see-through corners, which RGB cannot hold
    degrees_ccw = angle if direction == "counterclockwise" else -angle
    if expand:  # refuse before allocating the expanded canvas
        _check_output_size(ops.rotated_size(image.size, degrees_ccw), max_output_pixels, "The rotated image")
    out = ops.rotate(image, degrees_ccw, expand=expand, fill=fill)
    shown = f"{angle:g}°"
    if angle % 360 == 0:
        sentence = f"Rotated {shown}, a full turn: the image looks the same."
    elif angle % 90 == 0:
        sentence = f"Rotated {shown} {direction}."
    else:
        corners = f"{fill_name} corners" if expand else f"{fill_name} corners, size kept"
        sentence = f"Rotated {shown} {direction} ({out.width}×{out.height}, {corners})."
    args = {"angle": _plain(angle), "direction": direction, "expand": expand, "fill": fill_name,
            "pil_angle": _plain(degrees_ccw)}
    return out, args, sentence


def _rotation_fill(mode: str, requested) -> tuple[str, tuple | None]:
    """Corner colour: transparent for RGBA, white for RGB (a photo on white paper), or the user's colour."""
    if requested in (None, "", "default"):
        return ("transparent", (0, 0, 0, 0)) if mode == "RGBA" else ("white", (255, 255, 255))
    name = str(requested).lower()
    if name in ("transparent", "clear", "none"):
        return "transparent", (0, 0, 0, 0)
    try:
        rgb = ImageColor.getrgb(name)[:3]
    except ValueError:
        raise InvalidInput(f"I don't know the colour {requested!r} for the corners.",
                           suggestions=["Rotate 45° with a black background", "Rotate 45° with a white background"]
                           ) from None
    return name, ((*rgb, 255) if mode == "RGBA" else rgb)


def _flip(image, edit, max_output_pixels):
    axis = str(edit.get("axis", "horizontal")).lower()
    if axis not in ("horizontal", "vertical"):
        raise InvalidInput(f"Flip axis {axis!r} is not horizontal or vertical.")
    sentence = "Flipped horizontally (mirrored left to right)." if axis == "horizontal" else \
        "Flipped vertically (top to bottom)."
    return ops.flip(image, axis), {"axis": axis}, sentence


def _crop(image, edit, max_output_pixels):
    size, args = image.size, {}
    if edit.get("box") is not None:
        box = _numbers(edit["box"], 4, "box")
        args["box"], described = [_plain(v) for v in box], "the box " + ",".join(f"{v:g}" for v in box)
    elif edit.get("margins"):
        margins = {side: _float(edit["margins"].get(side, 0), "margin") for side in ("left", "top", "right", "bottom")}
        if any(v < 0 for v in margins.values()) or margins["left"] + margins["right"] >= 100 or \
                margins["top"] + margins["bottom"] >= 100:
            raise InvalidInput("Those margins would leave nothing of the image; use less than 100% per axis.")
        box = ops.margins_box(size, margins)
        args["margins"] = {k: _plain(v) for k, v in margins.items() if v}
        described = ", ".join(f"{v:g}% off the {k}" for k, v in margins.items() if v)
    elif edit.get("aspect"):
        aspect = _ASPECT_NAMES.get(str(edit["aspect"]).lower(), str(edit["aspect"]))
        ratio_w, ratio_h = _numbers(aspect.replace("/", ":").split(":"), 2, "aspect ratio")
        if ratio_w <= 0 or ratio_h <= 0:
            raise InvalidInput(f"The aspect ratio {aspect} is not usable.")
        box = ops.centred_aspect_box(size, ratio_w, ratio_h)
        args["aspect"], described = aspect, ("a square" if ratio_w == ratio_h else aspect)
    elif edit.get("size"):
        box_w, box_h = (int(v) for v in _numbers(edit["size"], 2, "size"))
        box = ops.centred_size_box(size, box_w, box_h)
        args["size"], described = [box_w, box_h], f"{box_w}×{box_h} around the centre"
    else:
        raise MissingInput("How should I crop it? Say a shape (square, 16:9, portrait), a box (crop to "
                           "100,50,400,300) or margins (crop 10% from each side, the left half).",
                           suggestions=["Crop it to a square", "Crop it to 16:9", "Crop 10% from each side"])
    pixel_box = ops.clamp_box(size, box)
    if pixel_box is None:
        raise InvalidInput(f"The crop ({described}) lies outside the {size[0]}×{size[1]} image.",
                           suggestions=["Crop it to a square", "Crop 10% from each side"])
    out = ops.crop(image, pixel_box)
    args["pixel_box"] = list(pixel_box)
    return out, args, f"Cropped to {described} ({out.width}×{out.height})."


def _resize(image, edit, max_output_pixels):
    requested = {k: edit.get(k) for k in ("width", "height", "scale", "long_side") if edit.get(k) is not None}
    if not requested:
        raise MissingInput("What size should it be? Give a size (800x600), one side (800 wide) or a factor (50%).",
                           suggestions=["Resize it to 50%", "Resize it to 1024 wide", "Make it twice as big"])
    values = {k: _float(v, k) for k, v in requested.items()}
    if any(v <= 0 for v in values.values()):
        raise InvalidInput("Sizes and factors must be positive.")
    int_sides = {k: int(round(v)) for k, v in values.items() if k != "scale"}
    width, height = ops.resize_target(image.size, scale=values.get("scale"), **int_sides)
    _check_output_size((width, height), max_output_pixels, "The resized image")
    out = ops.resize(image, (width, height))
    args = {**{k: _plain(v) for k, v in values.items()}, "output_size": [width, height], "resample": "lanczos"}
    return out, args, f"Resized from {image.width}×{image.height} to {width}×{height}."


def _colour(image, edit, max_output_pixels):
    operation = edit["operation"]
    factor = _float(edit.get("factor", 1.3), "factor")
    if not 0 <= factor <= 10:
        raise InvalidInput(f"A {operation} factor of {factor:g} is out of range (0 to 10; 1 keeps it as it is).")
    out = _COLOUR_OPERATIONS[operation](image, factor)
    change = round((factor - 1) * 100)
    return out, {"factor": _plain(factor)}, f"{operation.capitalize()} {change:+d}%."


def _grayscale(image, edit, max_output_pixels):
    return ops.grayscale(image), {}, "Converted to black and white."


def _sepia(image, edit, max_output_pixels):
    return ops.sepia(image), {}, "Toned sepia."


def _blur(image, edit, max_output_pixels):
    if edit.get("region"):
        raise CapabilityUnavailable(
            f"I can only blur the whole image; blurring just the {edit['region']} needs a segmentation model "
            "that this edit does not have.", suggestions=["Blur the whole image slightly", "Remove the background"])
    radius = _float(edit.get("radius", 4), "radius")
    if not 0 < radius <= 200:
        raise InvalidInput(f"A blur radius of {radius:g} px is out of range (more than 0, at most 200).")
    return ops.blur(image, radius), {"radius": _plain(radius), "filter": "gaussian"}, \
        f"Blurred (Gaussian, radius {radius:g} px)."


def _sharpen(image, edit, max_output_pixels):
    strength = str(edit.get("strength", "medium")).lower()
    if strength not in ops.SHARPEN_PRESETS:
        raise InvalidInput(f"Sharpen strength {strength!r} is not one of {', '.join(ops.SHARPEN_PRESETS)}.")
    radius, percent, threshold = ops.SHARPEN_PRESETS[strength]
    args = {"strength": strength, "filter": "unsharp_mask", "radius": radius, "percent": percent,
            "threshold": threshold}
    return ops.sharpen(image, strength), args, f"Sharpened ({strength})."


_STEPS = {"rotate": _rotate, "flip": _flip, "crop": _crop, "resize": _resize, "brightness": _colour,
          "contrast": _colour, "saturation": _colour, "grayscale": _grayscale, "sepia": _sepia, "blur": _blur,
          "sharpen": _sharpen}


def _check_output_size(size: tuple[int, int], max_output_pixels: int, what: str) -> None:
    width, height = size
    if width * height > max_output_pixels:
        raise InvalidInput(
            f"{what} would be {width}×{height} = {width * height / 1e6:.1f} megapixels; the limit is "
            f"{max_output_pixels / 1e6:.1f} megapixels.",
            suggestions=["Resize it to 50%", "Resize it to 2048 wide"],
            details={"width": width, "height": height})


def _float(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"The {name} {value!r} is not a number.") from None


def _numbers(values, count: int, name: str) -> list[float]:
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    values = list(values)
    if len(values) != count:
        raise InvalidInput(f"The {name} needs {count} numbers, got {values!r}.")
    return [_float(v, name) for v in values]


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else float(number)
