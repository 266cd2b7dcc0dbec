"""What an upscale request says in its own words: whether the picture is anime/illustration art (which has its
own models). The factor ("4x", "twice as big", "quadruple", "300%") is read once, by the router
(core/quantities.py: `scale_factor`), and validated by the backends (`choose_factor`). Pure Python; exposed as the
capability's `parse_params`, so the result is merged over the router's generic parameters.
"""

from __future__ import annotations

import re

_ANIME = re.compile(r"\b(anime|manga|cartoon|illustration|drawing|comic|line ?art|cel[- ]shaded|pixel art)s?\b")
_PHOTO = re.compile(r"\b(photo|photograph|picture of a real|portrait photo)s?\b")


def parse_upscale_params(text: str) -> dict:
    """{'variant': 'anime'|'photo'} when the text says which (the factor is the router's to read:
    core/quantities.py `scale_factor`, one parser for every capability)."""
    lowered = (text or "").lower()
    params: dict = {}
    if _ANIME.search(lowered):
        params["variant"] = "anime"
    elif _PHOTO.search(lowered):
        params["variant"] = "photo"
    return params
