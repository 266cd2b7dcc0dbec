"""Turning a chat request into a complete, explicit generation plan (pure Python, no torch).

`plan_generation(request, profile)` decides everything before any model work: the mode (text-to-image or
image-to-image), prompt and negative prompt, size snapped to what the model accepts, batch count, steps,
guidance, scheduler, strength and the seed (random when not given, always recorded). Regenerate reuses the
recipe of the image it refers to with a new seed, "regenerate exactly" keeps the seed, and variations run
image-to-image from the attached or latest image. What was adjusted (clamped size, too few steps for the
strength…) is collected in `notes` for the reply. Expected problems raise `core.errors` types.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from core.errors import InvalidInput, MissingInput
from models.contracts import CapabilityRequest, InputImage
from models.image_generation.params import (GENERATE, REGENERATE, REGENERATE_EXACT, VARIATION, detect_mode,
                                            extra_prompt, parse_generation_params, strip_parameter_phrases)

MAX_COUNT = 8
MAX_STEPS = 100
MAX_SIDE = 2048
MAX_GUIDANCE = 30.0
DEFAULT_STRENGTH = 0.55
TEXT_TO_IMAGE, IMAGE_TO_IMAGE = "text_to_image", "image_to_image"


@dataclass(frozen=True)
class ModelProfile:
    """What the loaded model accepts and prefers."""
    model_id: str
    native_width: int
    native_height: int
    granularity: int  # width and height must be multiples of this
    default_steps: int
    default_guidance: float
    revision: str | None = None


@dataclass
class GenerationPlan:
    mode: str  # TEXT_TO_IMAGE | IMAGE_TO_IMAGE
    request_mode: str  # what the user asked: generate, regenerate, regenerate_exact, variation
    prompt: str
    negative_prompt: str
    width: int
    height: int
    count: int
    steps: int
    guidance: float
    seed: int
    scheduler: str | None = None  # A1111 sampler name asked for; None = the model's own
    strength: float | None = None
    init_image: object = None  # PIL RGB image resized to (width, height) for IMAGE_TO_IMAGE
    parent_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        """One seed per image, A1111 style: seed, seed+1, …"""
        return [(self.seed + i) % 2**32 for i in range(self.count)]


def is_generation_recipe(recipe: dict | None) -> bool:
    return bool(recipe) and recipe.get("capability", "image_generation") == "image_generation" \
        and "seed" in recipe and "prompt" in recipe


def plan_generation(request: CapabilityRequest, profile: ModelProfile, *, max_pixels: int = MAX_SIDE * MAX_SIDE,
                    random_seed=lambda: secrets.randbelow(2**32)) -> GenerationPlan:
    params = {**parse_generation_params(request.text), **(request.params or {})}
    mode = params.get("mode") or GENERATE
    notes: list[str] = []
    source = request.images[0] if request.images else None
    recipe = params.get("source_recipe") or (source.recipe if source and is_generation_recipe(source.recipe) else None)
    parent_ids: list[str] = []

    if mode in (REGENERATE, REGENERATE_EXACT):
        if recipe is None and source is None:
            raise MissingInput("There is no earlier generated image to regenerate. Describe what you would like.",
                               suggestions=["Generate an image first, e.g. 'a red fox in the snow'."])
        if recipe is None:
            mode = VARIATION
            notes.append("that image has no generation recipe, so I made variations of it instead")
        elif recipe.get("mode") == IMAGE_TO_IMAGE:
            if source is None:
                raise MissingInput("That image was a variation; attach the image to vary again.")
            notes.append("that image was itself a variation; I varied the latest image again")
            mode = VARIATION if mode == REGENERATE else mode
    if mode == VARIATION and source is None:
        raise MissingInput("Attach an image, or generate one first, to make variations of it.",
                           suggestions=["Generate an image first, then ask for variations."])
    inherited = recipe or {}
    reuse = mode in (REGENERATE, REGENERATE_EXACT, VARIATION)

    prompt = _prompt(request, params, mode, inherited)
    explicit_negative = ", ".join(params.get("negative") or []) if isinstance(params.get("negative"), list) \
        else str(params.get("negative") or "")
    negative = explicit_negative or (inherited.get("negative_prompt", "") if reuse and recipe
                                     else request.negative_prompt)

    count = _clamp_int(params.get("count") or (inherited.get("count") if mode == REGENERATE else None) or 1,
                       1, MAX_COUNT, "count", notes)
    steps = _clamp_int(params.get("steps") or (inherited.get("steps") if reuse else None) or profile.default_steps,
                       1, MAX_STEPS, "steps", notes)
    guidance = params.get("guidance")
    if guidance is None:
        guidance = inherited.get("guidance") if reuse and "guidance" in inherited else profile.default_guidance
    guidance = max(0.0, min(MAX_GUIDANCE, float(guidance)))
    scheduler = params.get("scheduler") or (inherited.get("sampler_requested") if reuse else None)
    seed = params.get("seed")
    if seed is None and mode == REGENERATE_EXACT:
        seed = inherited.get("seed")
    seed = int(seed) % 2**32 if seed is not None else int(random_seed())

    strength = init_image = None
    use_image = mode == VARIATION or (mode == REGENERATE_EXACT and inherited.get("mode") == IMAGE_TO_IMAGE)
    if use_image:
        width, height = _variation_size(params, source, profile)
        strength = float(params.get("strength") or inherited.get("strength") or DEFAULT_STRENGTH)
        strength = max(0.05, min(1.0, strength))
        if steps * strength < 1:
            needed = math.ceil(1 / strength)
            notes.append(f"used {needed} steps instead of {steps} so that strength {strength:g} does at least one step")
            steps = needed
        if source.image_id:
            parent_ids.append(source.image_id)
    else:
        width, height = _requested_size(params, inherited if reuse else {}, profile)
    width, height = snap_size(width, height, profile.granularity, max_pixels, notes)
    if use_image:
        init_image = _prepare_init_image(source, width, height)
    elif reuse and source is not None and source.image_id and recipe is source.recipe:
        parent_ids.append(source.image_id)
    if guidance <= 1.0 and negative:
        notes.append("the negative prompt has no effect at guidance ≤ 1 (this model is distilled for no guidance)")
    return GenerationPlan(mode=IMAGE_TO_IMAGE if use_image else TEXT_TO_IMAGE, request_mode=mode, prompt=prompt,
                          negative_prompt=negative, width=width, height=height, count=count, steps=steps,
                          guidance=guidance, seed=seed, scheduler=scheduler, strength=strength,
                          init_image=init_image, parent_ids=parent_ids, notes=notes)


def _prompt(request: CapabilityRequest, params: dict, mode: str, inherited: dict) -> str:
    if mode == GENERATE:
        prompt = strip_parameter_phrases(request.prompt or request.text)
        if not prompt:
            raise InvalidInput("Tell me what to draw, e.g. 'a red fox in the snow, watercolor'.")
        return prompt
    base = inherited.get("prompt", "")
    extra = params.get("extra_prompt", "")
    if mode == VARIATION and request.prompt.strip():
        # A caller's prompt (the refiner's, or a style preset from style_transfer) describes the new look;
        # a refined "make variations of this" reduces to nothing here and the earlier prompt is kept.
        caller = request.prompt.strip()
        extra = extra_prompt(caller) if detect_mode(caller) != GENERATE else strip_parameter_phrases(caller)
    if base and extra:
        return f"{base}, {extra}"
    return base or extra


def _requested_size(params: dict, inherited: dict, profile: ModelProfile) -> tuple[int, int]:
    width, height, aspect = params.get("width"), params.get("height"), _ratio(params.get("aspect"))
    if width and height:
        return int(width), int(height)
    if width or height:
        ratio = aspect or (profile.native_width / profile.native_height)
        return (int(width), round(int(width) / ratio)) if width else (round(int(height) * ratio), int(height))
    if aspect:
        area = profile.native_width * profile.native_height
        return round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
    if inherited.get("width") and inherited.get("height"):
        return int(inherited["width"]), int(inherited["height"])
    return profile.native_width, profile.native_height


def _variation_size(params: dict, source: InputImage, profile: ModelProfile) -> tuple[int, int]:
    if params.get("width") or params.get("height") or params.get("aspect"):
        return _requested_size(params, {}, profile)
    w, h = source.image.size
    area = profile.native_width * profile.native_height
    if w * h <= area * 1.5:
        return w, h
    scale = math.sqrt(area / (w * h))
    return round(w * scale), round(h * scale)


def _ratio(aspect) -> float | None:
    if not aspect:
        return None
    try:
        a, b = (float(x) for x in str(aspect).split(":"))
        return a / b if a > 0 and b > 0 else None
    except ValueError:
        return None


def snap_size(width: int, height: int, granularity: int, max_pixels: int, notes: list[str]) -> tuple[int, int]:
    """Multiples of `granularity`, longest side ≤ MAX_SIDE, area ≤ max_pixels; adjustments noted."""
    g = max(1, granularity)
    scale = min(1.0, MAX_SIDE / max(width, height), math.sqrt(max_pixels / (width * height)))
    rounder = math.floor if scale < 1 else round
    w = max(g, int(rounder(width * scale / g)) * g)
    h = max(g, int(rounder(height * scale / g)) * g)
    if (w, h) != (width, height):
        why = f"multiples of {g}" if scale == 1 else f"at most {MAX_SIDE} px a side and {max_pixels / 1e6:.1f} MP"
        notes.append(f"made the size {w}x{h} instead of {width}x{height} ({why})")
    return w, h


def _clamp_int(value, low: int, high: int, name: str, notes: list[str]) -> int:
    value = int(value)
    clamped = max(low, min(high, value))
    if clamped != value:
        notes.append(f"{name} {value} is outside {low}–{high}; used {clamped}")
    return clamped


def _prepare_init_image(source: InputImage, width: int, height: int):
    from PIL import Image

    image = source.image
    if image.mode == "RGBA":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image
