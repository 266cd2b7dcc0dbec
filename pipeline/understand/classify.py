"""Step 1 of the message flow: which capability does the user want, and how sure are we.

`Classifier` is the interface the pipeline depends on; `KeywordClassifier` is the small, dependency-free
implementation (weighted cue phrases per intent plus what the context says: attached images, a latest
image in the session). The router (pipeline/router) provides a stronger classifier behind the same
interface. Parameters are extracted separately (pipeline/params) so every classifier shares them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from core.vocabulary import (BACKGROUND_REMOVAL, CHAT, FACE_SWAP, IMAGE_EDIT, IMAGE_GENERATION, INTENTS,
                             OBJECT_REMOVAL, STYLE_TRANSFER, UPSCALE)


@dataclass(frozen=True)
class ClassifyContext:
    n_images: int = 0  # images attached to this message
    has_latest_image: bool = False  # the session already holds an image "it" can refer to
    has_mask: bool = False


@dataclass
class Intent:
    name: str
    confidence: float
    params: dict = field(default_factory=dict)
    candidates: list[tuple[str, float]] = field(default_factory=list)  # best first, probabilities
    source: str = ""  # which classifier / rule decided
    ambiguous: bool = False  # too unsure to act: the pipeline asks which of the candidates was meant

    @property
    def runner_up(self) -> tuple[str, float] | None:
        rest = [c for c in self.candidates if c[0] != self.name]
        return rest[0] if rest else None


class Classifier(Protocol):
    def classify(self, text: str, context: ClassifyContext) -> Intent: ...


_CUES: dict[str, tuple[tuple[str, float], ...]] = {
    IMAGE_GENERATION: (("generate", 2), ("create", 2), ("draw", 2), ("paint", 1.5), ("make me", 1.5),
                       ("picture of", 2), ("image of", 2), ("photo of", 1.5), ("render", 1.5), ("imagine", 2),
                       ("illustration", 1.5), ("regenerate", 3), ("variation", 3), ("another one", 2)),
    FACE_SWAP: (("face swap", 4), ("swap face", 4), ("swap my face", 4), ("faceswap", 4), ("swap the face", 4),
                ("put my face", 4), ("replace the face", 4), ("face onto", 3), ("swap faces", 4)),
    BACKGROUND_REMOVAL: (("background", 3), ("cut out", 3), ("cutout", 3), ("transparent", 2.5),
                         ("remove bg", 4), ("no bg", 3), ("isolate", 2)),
    OBJECT_REMOVAL: (("erase", 3), ("remove the", 2), ("get rid of", 3), ("delete the", 2), ("inpaint", 3),
                     ("take out", 2.5), ("watermark", 2), ("remove", 1)),
    STYLE_TRANSFER: (("style of", 3), ("in the style", 3), ("look like", 2.5), ("van gogh", 3), ("monet", 3),
                     ("picasso", 3), ("mosaic", 2.5), ("ukiyo", 3), ("painting style", 2), ("stylize", 3),
                     ("stylise", 3), ("style transfer", 4), ("sketch", 2), ("cartoon", 2), ("turn it into", 1.5)),
    UPSCALE: (("upscale", 4), ("upscaling", 4), ("enhance resolution", 4), ("higher resolution", 3),
              ("super resolution", 4), ("enlarge", 3), ("4x", 1.5), ("2x", 1.5), ("bigger", 2), ("sharper", 1.5),
              ("hd", 1.5), ("increase resolution", 4)),
    IMAGE_EDIT: (("rotate", 4), ("flip", 4), ("mirror", 3), ("crop", 4), ("resize", 4), ("brighter", 3),
                 ("darker", 3), ("brightness", 4), ("contrast", 4), ("saturation", 4), ("saturate", 3),
                 ("black and white", 4), ("grayscale", 4), ("greyscale", 4), ("blur", 4), ("sharpen", 4),
                 ("monochrome", 3), ("sepia", 3), ("vivid", 2)),
    CHAT: (("hello", 3), ("hi", 2), ("help", 3), ("what can you", 4), ("how do i", 3), ("thanks", 3),
           ("thank you", 3), ("who are you", 4), ("?", 0.5), ("capabilities", 3), ("what do you", 2)),
}

_NEEDS_IMAGE = {FACE_SWAP, BACKGROUND_REMOVAL, OBJECT_REMOVAL, STYLE_TRANSFER, UPSCALE, IMAGE_EDIT}


class KeywordClassifier:
    """Scores each intent by the cue phrases in the text; an image in play favours the editing intents."""

    def classify(self, text: str, context: ClassifyContext) -> Intent:
        lowered = " " + re.sub(r"\s+", " ", text.lower()) + " "
        scores = {name: 0.0 for name in INTENTS}
        for name, cues in _CUES.items():
            for cue, weight in cues:
                if re.search(r"(?<![a-z])" + re.escape(cue) + r"(?![a-z])", lowered):
                    scores[name] += weight
        has_image = context.n_images > 0 or context.has_latest_image
        if context.has_mask:
            scores[OBJECT_REMOVAL] += 2
        for name in _NEEDS_IMAGE:
            if scores[name] > 0:
                scores[name] += 1.0 if has_image else -0.5
        if not any(scores.values()):
            # A bare description with no cue is most often a generation prompt; a bare image is a question.
            scores[IMAGE_GENERATION if len(lowered.split()) >= 2 and not lowered.strip().endswith("?") else CHAT] = 1.0
        total = sum(max(s, 0.0) for s in scores.values()) or 1.0
        ranked = sorted(((n, max(s, 0.0) / total) for n, s in scores.items()), key=lambda t: -t[1])
        return Intent(name=ranked[0][0], confidence=round(ranked[0][1], 3), candidates=ranked[:3], source="keywords")
