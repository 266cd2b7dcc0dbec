"""What every upscale backend shares: picking the factor, the output-size limit, running a model of a given
native scale to an exact factor, and the result with its recipe.

The factor comes from the parsed text ("4x", "twice"), else from a requested width/height, else a default
(4x for small images, 2x above 512 px). Factors above 4 are clamped to 4 and said so; an explicit factor
whose output would exceed `max_output_pixels` is refused with the numbers and a factor that fits. A model
of native scale n is applied once (or twice when n is smaller than the factor) and the result is resized to
the exact size with Lanczos; an alpha channel is carried over with Lanczos. Progress goes to the request per
tile ("Upscaling: tile 3 of 16"), and the request's cancel event is checked before every tile.
"""

from __future__ import annotations

import math

from core.errors import InvalidInput, MissingInput
from models.contracts import CapabilityRequest, CapabilityResult, OutputImage

MAX_FACTOR = 4
SMALL_SIDE = 512  # default 4x up to this longer side, 2x above


def input_image(request: CapabilityRequest):
    if not request.images:
        raise MissingInput("Attach the image you want me to upscale.", suggestions=["Attach an image and ask again."])
    return request.images[0]


def choose_factor(params: dict, size: tuple[int, int], max_output_pixels: int) -> tuple[float, list[str]]:
    """(factor, notes for the user). Raises InvalidInput when the request cannot be honoured."""
    width, height = size
    notes: list[str] = []
    explicit = _number(params.get("scale"))
    if explicit is None:
        target_w, target_h = _number(params.get("width")), _number(params.get("height"))
        wanted = max((target_w or 0) / width, (target_h or 0) / height)
        explicit = wanted if wanted > 1 else None
    if explicit is not None:
        if explicit <= 1:
            raise InvalidInput(f"An upscale factor of {explicit:g} would not make the image bigger.",
                               suggestions=["Upscale 2x", "Upscale 4x"])
        if explicit > MAX_FACTOR:
            notes.append(f"{explicit:g}x is more than I can do in one step; I used {MAX_FACTOR}x "
                         "(ask again to enlarge the result further)")
            explicit = MAX_FACTOR
        factor = int(explicit) if explicit == int(explicit) else round(explicit, 3)
        _check_output(size, factor, max_output_pixels)
        return factor, notes
    factor = 4 if max(size) <= SMALL_SIDE else 2
    while factor > 2 and _output_pixels(size, factor) > max_output_pixels:
        factor -= 1
    _check_output(size, factor, max_output_pixels)
    return factor, notes


def output_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def passes_needed(native_scale: int, factor: float) -> int:
    """How many times a model of `native_scale` runs to reach at least `factor`."""
    return max(1, math.ceil(math.log(factor) / math.log(native_scale) - 1e-9))


def upscale_with_model(image, factor: float, native_scale: int, model_fn, *, tile: int, overlap: int,
                       request: CapabilityRequest):
    """PIL image → PIL image exactly `factor` larger; returns (image, details for the recipe)."""
    import numpy as np
    from PIL import Image

    from models.upscale.tiling import upscale_with_oom_retry

    target = output_size(image.size, factor)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    passes = passes_needed(native_scale, factor)
    used_tile = tile
    for index in range(passes):
        rgb, used_tile = upscale_with_oom_retry(
            rgb, model_fn, native_scale, tile=used_tile, overlap=overlap, cancelled=request.cancelled,
            progress=lambda done, total, i=index: request.report((i + done / total) / passes * 0.95,
                                                                 _tile_words(done, total, i, passes)))
    result = Image.fromarray((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")
    if result.size != target:
        result = result.resize(target, Image.Resampling.LANCZOS)
    if image.mode == "RGBA":
        result.putalpha(image.getchannel("A").resize(target, Image.Resampling.LANCZOS))
    return result, {"native_scale": native_scale, "passes": passes, "tile": used_tile}


def _tile_words(done: int, total: int, index: int, passes: int) -> str:
    """"Upscaling: tile 3 of 16" (the tile being worked on), "…, pass 2 of 2" when the model runs twice."""
    if done < total:
        words = f"Upscaling: tile {done + 1} of {total}"
    else:
        words = f"Upscaling: {total} of {total} tiles done"
    return words + (f", pass {index + 1} of {passes}" if passes > 1 else "")


def build_result(request: CapabilityRequest, source, image, *, factor: float, model_id: str, backend: str,
                 human_name: str, notes: list[str], details: dict) -> CapabilityResult:
    width, height = image.size
    recipe = {"operation": "upscale", "scale": factor, "model": model_id, "backend": backend,
              "input_size": list(source.image.size), "output_size": [width, height], **details}
    message = f"Upscaled {factor:g}x to {width}×{height} with {human_name}."
    if notes:
        message += " " + "; ".join(notes) + "."
    return CapabilityResult(
        images=[OutputImage(image, recipe=recipe, parent_ids=[source.image_id] if source.image_id else [])],
        message=message, model_id=model_id,
        metadata={"backend": backend, "scale": factor, "model": model_id, "output_size": [width, height], **details},
        suggestions=["Remove the background", "Erase an object", "Apply an art style"])


def _output_pixels(size: tuple[int, int], factor: float) -> int:
    width, height = output_size(size, factor)
    return width * height


def _check_output(size: tuple[int, int], factor: float, max_output_pixels: int) -> None:
    pixels = _output_pixels(size, factor)
    if pixels <= max_output_pixels:
        return
    width, height = output_size(size, factor)
    fitting = [f for f in (4, 3, 2) if f < factor and _output_pixels(size, f) <= max_output_pixels]
    raise InvalidInput(
        f"Upscaling {size[0]}×{size[1]} by {factor:g}x would make {width}×{height} = {pixels / 1e6:.1f} megapixels; "
        f"the limit here is {max_output_pixels / 1e6:.1f} megapixels (GATEWAY_MAX_OUTPUT_PIXELS).",
        suggestions=[f"Upscale {fitting[0]}x"] if fitting else ["Crop or shrink the image first, then upscale it."],
        details={"limit_pixels": max_output_pixels, "requested_pixels": pixels})


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None
