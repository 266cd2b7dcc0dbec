"""What an upscale request says in words: the factor ("4x", "twice as big", "quadruple", "300%") and whether
the picture is anime/illustration art (which has its own models). Pure Python, no imports beyond `re`;
exposed as the capability's `parse_params`, so the result is merged over the router's generic parameters.
"""

from __future__ import annotations

import re

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "eight": 8, "2": 2, "3": 3, "4": 4, "8": 8}
_FACTOR_PATTERNS = (
    (re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:x|×|times)(?![a-z\d])(?!\s*\d)"), lambda m: float(m.group(1))),
    (re.compile(r"(?<![\w.])[x×]\s*(\d+(?:\.\d+)?)(?![\w.])"), lambda m: float(m.group(1))),
    (re.compile(r"\b(two|three|four|eight)\s+times\b"), lambda m: float(_NUMBER_WORDS[m.group(1)])),
    (re.compile(r"\bby\s+(\d{3})\s*%"), lambda m: float(m.group(1)) / 100),
    (re.compile(r"\b(\d{3})\s*%\s*(?:size|bigger|larger|scale)"), lambda m: float(m.group(1)) / 100),
    (re.compile(r"\b(quadruple|quadruples|quadrupled|fourfold|four-fold)\b"), lambda m: 4.0),
    (re.compile(r"\b(triple|triples|tripled|thrice|threefold|three-fold)\b"), lambda m: 3.0),
    (re.compile(r"\b(double|doubles|doubled|twice|twofold|two-fold)\b"), lambda m: 2.0),
)
_ANIME = re.compile(r"\b(anime|manga|cartoon|illustration|drawing|comic|line ?art|cel[- ]shaded|pixel art)s?\b")
_PHOTO = re.compile(r"\b(photo|photograph|picture of a real|portrait photo)s?\b")


def parse_upscale_params(text: str) -> dict:
    """{'scale': int|float, 'variant': 'anime'|'photo'} with only the keys the text states."""
    lowered = (text or "").lower()
    params: dict = {}
    for pattern, value in _FACTOR_PATTERNS:
        match = pattern.search(lowered)
        if match:
            factor = value(match)
            params["scale"] = int(factor) if factor == int(factor) else factor
            break
    if _ANIME.search(lowered):
        params["variant"] = "anime"
    elif _PHOTO.search(lowered):
        params["variant"] = "photo"
    return params
