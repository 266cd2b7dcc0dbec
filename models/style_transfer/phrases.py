"""What a style request says, read from the user's message: which style, how strong, keep the colours, and
whether the style comes from one of the attached images ("apply the style of the second image to the first").

`parse_params(text)` is the capability's `parse_params`: the pipeline merges its result over the router's
generic parameters. Only what the text states is returned, so absent keys keep their defaults. Pure Python.
"""

from __future__ import annotations

import re

from models.style_transfer.catalogue import find_style

_ORDINALS = {"first": 0, "1st": 0, "1": 0, "one": 0, "second": 1, "2nd": 1, "2": 1, "two": 1, "other": 1,
             "last": 1, "latter": 1, "former": 0}
_NOUN = r"(?:image|picture|photo|pic|painting|artwork|one|attachment|file)"
_ORD = r"(first|second|1st|2nd|other|last|latter|former)"
_STYLE_IMAGE_PATTERNS = (
    # "the style of the second image", "style from the other picture", "in the style of the second"
    re.compile(rf"\bstyle\s+(?:of|from)\s+(?:the\s+|my\s+)?{_ORD}(?:\s+{_NOUN}|(?=\s*(?:[.,;!?]|$)))", re.I),
    # "style of image 2", "style from picture #1"
    re.compile(rf"\bstyle\s+(?:of|from)\s+(?:the\s+)?{_NOUN}\s*#?\s*(1|2)\b", re.I),
    # "the second image's style", "use the first picture as the style", "second photo as style reference"
    re.compile(rf"\b{_ORD}\s+{_NOUN}(?:'s|’s)?\s+(?:as\s+(?:the\s+|a\s+)?)?style", re.I),
    # "image 2 as the style", "image 1's style"
    re.compile(rf"\b{_NOUN}\s*#?\s*(1|2)(?:'s|’s)?\s+(?:as\s+(?:the\s+|a\s+)?)?style", re.I),
)
# "in the style of this painting": the style comes from an image, the second attachment unless said otherwise.
_STYLE_FROM_SOME_IMAGE = re.compile(
    rf"\bstyle\s+(?:of|from)\s+(?:this|that|the|my)\s+(?:other\s+)?{_NOUN}\b|\b(?:this|that)\s+{_NOUN}'?s?\s+style\b",
    re.I)

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|percent)", re.I)
_STRENGTH_NUMBER = re.compile(
    r"\b(?:strength|intensity|amount|opacity|strong)\s*(?:of|at|to|=|:|is)?\s*(\d+(?:\.\d+)?)\b(?!\s*(?:%|percent))",
    re.I)
_WEAK = re.compile(r"\b(?:very\s+subtle|very\s+slight(?:ly)?|barely|faint(?:ly)?)\b", re.I)
_SUBTLE = re.compile(r"\b(?:subtle|subtly|slight(?:ly)?|hint\s+of|touch\s+of|gentle|gently|lightly|a\s+bit|"
                     r"a\s+little|softly|mild(?:ly)?)\b", re.I)
_STRONG = re.compile(r"\b(?:strong(?:er|ly)?|heavy|heavily|intense(?:ly)?|fully|maximum|extreme(?:ly)?)\b", re.I)
_KEEP_COLOURS = re.compile(
    r"\b(?:keep|preserve|retain|maintain|original)\b[^.,;]{0,25}\bcolou?rs?\b|\bcolou?rs?\s+(?:preserved|kept)\b",
    re.I)

SUBTLE_STRENGTH, WEAK_STRENGTH = 0.5, 0.3


def parse_params(text: str) -> dict:
    text = text or ""
    params: dict = {}
    match = find_style(text)
    if match is not None:
        params["style"] = match.phrase
        params["style_key"] = match.style.key
    strength = _strength(text)
    if strength is not None:
        params["strength"] = strength
    if _KEEP_COLOURS.search(text):
        params["preserve_color"] = True
    style_image = style_image_index(text)
    if style_image is not None:
        params["style_image"] = style_image
    return params


def style_image_index(text: str) -> int | None:
    """0 or 1 when the text takes the style from the first or second image, else None."""
    for pattern in _STYLE_IMAGE_PATTERNS:
        found = pattern.search(text)
        if found:
            return _ORDINALS[found.group(1).lower()]
    if _STYLE_FROM_SOME_IMAGE.search(text):
        return 1
    return None


def _strength(text: str) -> float | None:
    found = _PERCENT.search(text)
    if found:
        return _clamp(float(found.group(1)) / 100.0)
    found = _STRENGTH_NUMBER.search(text)
    if found:
        value = float(found.group(1))
        return _clamp(value / 100.0 if value > 1.0 else value)
    if _WEAK.search(text):
        return WEAK_STRENGTH
    if _SUBTLE.search(text):
        return SUBTLE_STRENGTH
    if _STRONG.search(text):
        return 1.0
    return None


def _clamp(value: float) -> float:
    return round(max(0.0, min(1.0, value)), 3)
