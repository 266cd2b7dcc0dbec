"""What the router's linear model sees besides the sentence embedding: words, cues and context.

`cue_terms(text)` names the generic concepts a message mentions (a pixel size, an upscale factor, an art
style, a colour, a reference to an earlier image…) so the model generalises past the exact words of its
training phrases, and `context_terms(context)` encodes what the chat knows (attached images, a latest image,
a painted mask). `lexical_document(text, context)` joins them into the one string the word n-gram vectoriser
reads. Pure Python, no heavy imports.
"""

from __future__ import annotations

import re

from pipeline.understand.wordlists import BACKGROUND_OBJECTS, COLOURS, STYLE_TERMS, normalise

_CUES: dict[str, re.Pattern] = {
    "size": re.compile(r"\b\d{2,5}\s*(?:x|by|\*)\s*\d{2,5}\b|\b\d{2,5}\s*(?:px|pixels?)\b"),
    "ratio": re.compile(r"\b\d{1,2}\s*:\s*\d{1,2}\b"),
    "factor": re.compile(r"\b\d(?:\.\d)?\s*x\b|\bx\s*\d\b|\b(?:twice|double|triple|quadruple|\d+\s*times)\b"),
    "percent": re.compile(r"\d+\s*%|\bpercent\b"),
    "degrees": re.compile(r"\b\d+\s*degrees?\b|\bdeg\b"),
    "seed_steps": re.compile(r"\bseed\b|\bsteps?\b"),
    "count": re.compile(r"\b(?:\d|two|three|four|five|six|couple|few|several)\s+(?:\w+\s+)?"
                        r"(?:images|pictures|pics|photos|versions|variations|options|designs)\b"),
    "colour": re.compile(r"\b(?:" + "|".join(sorted(COLOURS, key=len, reverse=True)) + r")\b"),
    "style": re.compile(r"\b(?:" + "|".join(re.escape(s) for s in sorted(STYLE_TERMS, key=len, reverse=True)) + r")\b"),
    "refers_back": re.compile(r"\b(?:it|this|that|these|those|them|the (?:last|previous|generated|same|original)"
                              r"|(?:you|u) (?:just )?(?:made|generated|created|drew)|before|above|again)\b"),
    "my_photo": re.compile(r"\b(?:my|our|this|the) (?:photo|picture|pic|image|selfie|portrait|shot)s?\b"),
    # "the background people" / "people in the background" are objects to erase, not the background itself
    "background_object": re.compile(r"\b(?:background|backdrop) (?:" + "|".join(BACKGROUND_OBJECTS) + r")\b"
                                    r"|\bin the (?:background|back)\b"),
    "everything_behind": re.compile(r"\b(?:everything|whatever|anything|all)\s+(?:is\s+|that'?s\s+|else\s+)?"
                                    r"(?:behind|around|except|but)\b"),
    "question": re.compile(r"\?\s*$|^(?:how|what|which|who|why|where|when|is|are|does|do you)\b"),
    "greeting": re.compile(r"^(?:hi|hello|hey|yo|hiya|howdy|thanks|thank you|thx|ty|bye|good (?:morning|evening|night))\b"),
}


def cue_terms(text: str) -> list[str]:
    lowered = normalise(text)
    return [f"cue_{name}" for name, pattern in _CUES.items() if pattern.search(lowered)]


def context_terms(context) -> list[str]:
    n_images = int(getattr(context, "n_images", 0) or 0)
    latest = bool(getattr(context, "has_latest_image", False))
    terms = [f"ctx_images_{min(n_images, 2)}"]
    terms.append("ctx_latest" if latest else "ctx_no_latest")
    if n_images == 0 and not latest:
        terms.append("ctx_no_image_at_all")
    if getattr(context, "has_mask", False):
        terms.append("ctx_mask")
    return terms


def lexical_document(text: str, context) -> str:
    """The text the n-gram vectorisers read: the message, then cue and context tokens they can weigh."""
    return " ".join([normalise(text), *cue_terms(text), *context_terms(context)])
