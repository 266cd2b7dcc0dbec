"""What a background-removal request says in words: the replacement background (transparent, a named CSS
colour, a hex code, "green screen"), whether the user also wants the mask or only the mask, and whether the
subject is a person or a thing (which picks the embedded method's person path). Pure Python (`re` and
Pillow's colour table); exposed as the capability's `parse_params`, so the result is merged over the
router's generic parameters. `resolve_background` turns the stored value into an RGB triple or None.
"""

from __future__ import annotations

import re

from PIL import ImageColor

from core.errors import InvalidInput

TRANSPARENT = "transparent"
GREEN_SCREEN = "green screen"
_GREEN_SCREEN_RGB = (0, 177, 64)  # the usual chroma-key green

_COLOURS = set(ImageColor.colormap)  # the 148 CSS colour names, lower case
_SPELLINGS = {"grey": "gray", "light grey": "lightgray", "dark grey": "darkgray"}
_COLOUR_WORD = r"(#[0-9a-f]{6}\b|#[0-9a-f]{3}\b|(?:(?:light|dark|pale|deep|sky|navy|hot|forest|sea|lime|royal|midnight|slate)\s+)?[a-z]+)"
_BACKGROUND = r"(?:background|backdrop|bg|backround)"
_FILLER = r"(?:(?:a|an|the|some|solid|plain|pure|simple|flat|clean|uniform|single[- ]colou?r(?:ed)?)\s+)*"
_PATTERNS = (
    # "on a white background", "with a solid black backdrop", "white bg"
    re.compile(_FILLER + _COLOUR_WORD + r"(?:\s+colou?r(?:ed)?)?\s+" + _BACKGROUND),
    # "replace the background with solid black", "make the background red", "background: #ff8800"
    re.compile(_BACKGROUND + r"\s*(?::|=|to|with|into|in|as|is|be|become|of)?\s*" + _FILLER + _COLOUR_WORD),
)
_TRANSPARENT = re.compile(r"\b(transparent|see[- ]through|no background|without (?:a |the |any )?background|"
                          r"alpha(?: channel)?|cut ?out|cutout|png with no)\b")
_GREEN_SCREEN_WORDS = re.compile(r"\b(green ?screen|chroma ?key)\b")
_MASK_ONLY = re.compile(r"\b((?:just|only) (?:the |a )?(?:mask|matte|silhouette)|mask only|matte only|"
                        r"(?:mask|matte|silhouette) (?:image )?only|black and white mask)\b")
_MASK_TOO = re.compile(r"\b(mask|matte|alpha matte|silhouette)\b")
_PERSON = re.compile(r"\b(person|people|persons|man|men|woman|women|boy|girl|child|kid|myself|him|her|"
                     r"portrait|selfie|headshot|face|human|guy|lady|astronaut)\b"
                     r"|(?<!give )(?<!send )(?<!show )(?<!get )(?<!make )(?<!let )(?<!tell )\bme\b")
_THING = re.compile(r"\b(product|object|item|thing|logo|car|bottle|shoe|cup|mug|cat|dog|animal|pet|plant|"
                    r"flower|furniture|package|box|toy)s?\b")


def parse_background_removal_params(text: str) -> dict:
    """{'background', 'mask_output' ('also'|'only'), 'subject' ('person'|'object')} — only what the text states."""
    lowered = " ".join((text or "").lower().split())
    params: dict = {}
    background = _background_from_text(lowered)
    if background:
        params["background"] = background
    if _MASK_ONLY.search(lowered):
        params["mask_output"] = "only"
    elif _MASK_TOO.search(lowered):
        params["mask_output"] = "also"
    if _PERSON.search(lowered):
        params["subject"] = "person"
    elif _THING.search(lowered):
        params["subject"] = "object"
    return params


def _background_from_text(lowered: str) -> str | None:
    if _GREEN_SCREEN_WORDS.search(lowered):
        return GREEN_SCREEN
    for pattern in _PATTERNS:
        for match in pattern.finditer(lowered):
            colour = _canonical_colour(match.group(1))
            if colour:
                return colour
    if _TRANSPARENT.search(lowered):
        return TRANSPARENT
    return None


def _canonical_colour(word: str) -> str | None:
    word = word.strip()
    if word.startswith("#"):
        return word
    if word in ("transparent", "clear", "invisible", "empty", "nothing", "none"):
        return TRANSPARENT
    word = _SPELLINGS.get(word, word)
    joined = word.replace(" ", "")
    if joined in _COLOURS:
        return joined
    last = word.split()[-1]  # "deep red" → red when "deepred" is not a CSS name
    last = _SPELLINGS.get(last, last)
    return last if last in _COLOURS else None


def resolve_background(value) -> tuple[int, int, int] | None:
    """None for a transparent background, else the RGB triple of a colour name, hex code or [r, g, b]."""
    if value is None or value == "" or str(value).lower() in (TRANSPARENT, "none", "alpha"):
        return None
    if isinstance(value, (list, tuple)) and len(value) == 3:
        return tuple(int(max(0, min(255, c))) for c in value)
    name = " ".join(str(value).lower().split())
    if name == GREEN_SCREEN:
        return _GREEN_SCREEN_RGB
    name = _SPELLINGS.get(name, name).replace(" ", "")
    try:
        return ImageColor.getrgb(name)[:3]
    except ValueError:
        raise InvalidInput(
            f"I don't know the colour {value!r} for the background.",
            suggestions=["Say a colour name such as white, black, gray, red or lightblue",
                         "or a hex code such as #ff8800, or 'transparent'."]) from None
