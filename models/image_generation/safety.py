"""A graded safety check for generated images: flagged images are blurred with a reason, never blacked out.

It runs Stable Diffusion's CLIP-based `StableDiffusionSafetyChecker` (the model folder's own `safety_checker`,
or the one named by `GATEWAY_T2I_SAFETY_CHECKER`) but computes the concept scores itself instead of calling the
checker's `forward`, which replaces flagged images with black squares. The score is how far the image's
embedding is past the nearest concept threshold (> 0 means flagged, with the same "special care" adjustment
as the original); the blur radius grows with it, so a borderline image is softened and a clear hit is
unrecognisable. `GATEWAY_T2I_SAFETY` chooses auto / on / off (see core/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

SAFETY_OFF, SAFETY_ON, SAFETY_AUTO = "off", "on", "auto"
SPECIAL_CARE_ADJUSTMENT = 0.01  # the original checker's stricter threshold once a special-care concept matches


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    score: float  # max(concept similarity - threshold); > 0 = flagged
    concept: int | None = None  # index of the strongest concept (the original checker's concepts are unnamed)

    def to_dict(self) -> dict:
        return {"checked": True, "flagged": self.flagged, "score": round(self.score, 4), "concept": self.concept}


def normalise_mode(value: str) -> str:
    value = (value or SAFETY_AUTO).strip().lower()
    if value in ("0", "false", "no", "none", "disabled", SAFETY_OFF):
        return SAFETY_OFF
    if value in ("1", "true", "yes", "enabled", SAFETY_ON):
        return SAFETY_ON
    return SAFETY_AUTO


class SafetyFilter:
    """The loaded checker and its image processor."""

    def __init__(self, checker, processor, source: str):
        self.checker = checker
        self.processor = processor
        self.source = source

    @classmethod
    def load(cls, target: str, *, subfolder: str | None, processor_subfolder: str | None, device: str, dtype,
             revision: str | None, local_files_only: bool) -> "SafetyFilter":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPImageProcessor

        kwargs = {"revision": revision, "local_files_only": local_files_only}
        checker = StableDiffusionSafetyChecker.from_pretrained(target, dtype=dtype, **kwargs,
                                                               **({"subfolder": subfolder} if subfolder else {}))
        processor = CLIPImageProcessor.from_pretrained(
            target, **kwargs, **({"subfolder": processor_subfolder} if processor_subfolder else {}))
        return cls(checker.to(device).eval(), processor, target if not subfolder else f"{target}/{subfolder}")

    def check(self, images) -> list[Verdict]:
        import torch

        checker = self.checker
        device, dtype = checker.device, checker.dtype
        pixels = self.processor(images=list(images), return_tensors="pt").pixel_values.to(device=device, dtype=dtype)
        with torch.no_grad():
            pooled = checker.vision_model(pixels)[1]
            embeds = torch.nn.functional.normalize(checker.visual_projection(pooled).float(), dim=-1)
            concepts = torch.nn.functional.normalize(checker.concept_embeds.float(), dim=-1)
            special = torch.nn.functional.normalize(checker.special_care_embeds.float(), dim=-1)
            special_scores = embeds @ special.T - checker.special_care_embeds_weights.float()
            concept_scores = embeds @ concepts.T - checker.concept_embeds_weights.float()
        verdicts = []
        for i in range(len(images)):
            adjustment = SPECIAL_CARE_ADJUSTMENT if bool((special_scores[i] > 0).any()) else 0.0
            scores = concept_scores[i] + adjustment
            best = int(torch.argmax(scores))
            score = float(scores[best])
            verdicts.append(Verdict(flagged=score > 0, score=score, concept=best))
        return verdicts

    def release(self) -> None:
        self.checker = None


def blur_radius(image_size: tuple[int, int], score: float) -> float:
    """Gaussian radius as a share of the longer side: 4 % just past the threshold, up to 10 % for clear hits."""
    share = 0.04 + min(max(score, 0.0), 0.1) * 0.6
    return max(2.0, max(image_size) * share)


def blur(image, score: float):
    from PIL import ImageFilter

    return image.filter(ImageFilter.GaussianBlur(blur_radius(image.size, score)))
