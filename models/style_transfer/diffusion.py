"""Styles no fast network covers (Pixar, LEGO, Ghibli, cyberpunk…), painted by the image generation model.

The request is handed to the `image_generation` capability through the registry as an img2img variation
(`params={"mode": "variation", "strength": s}`, the image to restyle as `images[0]`, the style's prompt
preset as `prompt`), so its backend runs from the shared model cache: the generation model is loaded once
for both capabilities. `generation_backend` says, cheaply, whether such a model is ready and, if not, why.
"""

from __future__ import annotations

from PIL import Image

from models.contracts import Backend, CapabilityRequest, CapabilityResult, InputImage
from models.style_transfer.geometry import Prepared

IMAGE_GENERATION = "image_generation"
DEFAULT_STRENGTH = 0.6  # enough to change the look, little enough to keep the composition
MIN_STRENGTH, MAX_STRENGTH = 0.25, 0.9
MIN_SIDE, MAX_SIDE = 512, 1024  # generation models are trained at 512–1024 px: smaller inits come out as mush
MULTIPLE = 8  # latent diffusion VAEs downsample by 8


def generation_backend(registry) -> tuple[Backend | None, str]:
    """The first ready image_generation backend, or None and the reason (from the backends' own statuses)."""
    if registry is None:
        return None, "the style backend is not connected to the model registry"
    try:
        capability = registry.get(IMAGE_GENERATION)
    except ValueError:
        return None, "no image generation capability is installed"
    reasons = []
    for backend in capability.backends:
        status = backend.status()
        if status.ready:
            return backend, ""
        reasons.append(f"{backend.name}: {status.reason}" + (f" (fix: {status.fix})" if status.fix else ""))
    return None, "; ".join(reasons) or "image generation has no backend installed"


def diffusion_strength(requested: float | None) -> float:
    if requested is None:
        return DEFAULT_STRENGTH
    return round(max(MIN_STRENGTH, min(MAX_STRENGTH, requested)), 3)


def prepare_init_image(image) -> Prepared:
    """The init image with its longer side in [MIN_SIDE, MAX_SIDE], both sides multiples of 8, aspect kept."""
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    rgb = image.convert("RGB")
    w, h = rgb.size
    scale = min(1.0, MAX_SIDE / max(w, h)) if max(w, h) >= MIN_SIDE else MIN_SIDE / max(w, h)
    size = tuple(max(MULTIPLE, round(side * scale / MULTIPLE) * MULTIPLE) for side in (w, h))
    if size != rgb.size:
        rgb = rgb.resize(size, Image.LANCZOS)
    return Prepared(rgb, image.size, alpha)


def run_variation(registry, backend: Backend, request: CapabilityRequest, content: InputImage, init: Prepared,
                  prompt: str, negative: str, strength: float) -> CapabilityResult:
    params = {"mode": "variation", "strength": strength, "count": 1}
    if negative:
        params["negative"] = negative  # else a generated source's own negative prompt would be inherited
    if request.params.get("seed") is not None:
        params["seed"] = request.params["seed"]
    sub_request = CapabilityRequest(
        capability=IMAGE_GENERATION, text=request.text, params=params,
        images=[InputImage(init.rgb, image_id=content.image_id, recipe=content.recipe, role=content.role)],
        prompt=prompt, negative_prompt=negative, context=dict(request.context),
        session_metadata=dict(request.session_metadata), progress=request.progress,
        cancel_event=request.cancel_event, device=request.device, owner=request.owner, deadline=request.deadline)
    return registry.run(sub_request, backend=backend)
