"""Deciding what a style request asks for, before any model runs.

A `Plan` says which image is restyled, with what (a catalogue style, a style taken from another image, a
style the catalogue does not know, or nothing stated → ask), how strongly, and whether to keep the colours.
Parameters come from the request (router + `parse_params`, chips' params) and, for keys still absent, from
reading `request.text` again, so a backend driven with bare params or bare text behaves the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInput, MissingInput
from models.contracts import CapabilityRequest, InputImage
from models.style_transfer.catalogue import Style, find_style, style_by_key
from models.style_transfer.phrases import parse_params

STYLE, FROM_IMAGE, UNKNOWN, ASK = "style", "from_image", "unknown", "ask"


@dataclass
class Plan:
    kind: str  # STYLE | FROM_IMAGE | UNKNOWN | ASK
    content: InputImage
    content_number: int = 1  # 1-based position among the request's images, for messages
    style: Style | None = None  # STYLE
    requested: str = ""  # the style as the user named it ("van gogh"), or the unknown name
    style_image: InputImage | None = None  # FROM_IMAGE
    style_number: int = 0
    strength: float | None = None  # None: the method's default
    preserve_color: bool = False

    @property
    def parent_ids(self) -> list[str]:
        ids = [self.content.image_id] + ([self.style_image.image_id] if self.style_image is not None else [])
        return [i for i in ids if i]


def effective_params(request: CapabilityRequest) -> dict:
    params = dict(request.params or {})
    for key, value in parse_params(request.text).items():
        params.setdefault(key, value)
    return params


def make_plan(request: CapabilityRequest) -> Plan:
    images = list(request.images or [])
    if not images:
        raise MissingInput("Attach the image you want restyled.", suggestions=["Attach a photo and say the style."])
    params = effective_params(request)
    strength = _strength(params.get("strength"))
    preserve = bool(params.get("preserve_color", False))
    named, requested = _named_style(params)
    style_index = params.get("style_image")

    if style_index is not None or (named is None and not requested and len(images) >= 2):
        style_at = _index(style_index, default=1)
        if len(images) < 2:
            raise MissingInput(
                "To copy the style of another picture I need two images: the photo to restyle and the picture "
                "whose style you want. Please attach both (photo first).",
                suggestions=["Attach the photo and the painting together."])
        if style_at >= len(images):
            raise MissingInput(f"You asked for the style of image {style_at + 1}, but only {len(images)} images came with the message.")
        content_at = 0 if style_at != 0 else 1
        return Plan(FROM_IMAGE, images[content_at], content_at + 1, style_image=images[style_at],
                    style_number=style_at + 1, requested=f"image {style_at + 1}", strength=strength,
                    preserve_color=preserve)
    if named is not None:
        return Plan(STYLE, images[0], 1, style=named, requested=requested, strength=strength, preserve_color=preserve)
    if requested:
        return Plan(UNKNOWN, images[0], 1, requested=requested, strength=strength, preserve_color=preserve)
    return Plan(ASK, images[0], 1, strength=strength, preserve_color=preserve)


def _named_style(params: dict) -> tuple[Style | None, str]:
    requested = str(params.get("style") or "").strip()
    by_key = style_by_key(str(params.get("style_key") or ""))
    if by_key is not None:
        return by_key, requested.lower() or by_key.aliases[0]
    if requested:
        match = find_style(requested)
        if match is not None:
            return match.style, match.phrase
        return None, requested
    return None, ""


def _strength(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"The style strength must be a number between 0 and 1, not {value!r}.") from None
    if number > 1.0:  # "70" meant 70 %
        number /= 100.0
    return max(0.0, min(1.0, number))


def _index(value, default: int) -> int:
    if value is None:
        return default
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"The style image must be given by its position (1 or 2), not {value!r}.") from None
