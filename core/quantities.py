"""One parser per fact a request states in words: a scale factor, a rotation and a size in pixels.

The router's parameter extraction (pipeline/understand/params.py) and a capability reading its own clauses
(models/image_edit/parse.py) both read these facts, so each is parsed here, once: `scale_factor("make it twice as
big")` → 2, `rotation("turn it left by ninety degrees")` → (90, "counterclockwise"), `pixel_size("1024x768")` →
(1024, 768). The text is expected lower-cased with numbers as digits (the extraction turns "ninety" into "90"
first). What is not stated is None; deciding a default or a limit is the capability's business. Standard library
only.
"""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "single": 1, "two": 2, "a couple of": 2, "a couple": 2, "couple of": 2,
    "a pair of": 2, "pair of": 2, "three": 3, "a few": 3, "few": 3, "several": 3, "four": 4, "five": 5,
    "six": 6, "half a dozen": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a dozen": 12, "dozen": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "one hundred": 100, "a hundred": 100,
}
_NUMBER_WORD_RE = "|".join(re.escape(w) for w in sorted(NUMBER_WORDS, key=len, reverse=True))
NUM = rf"(?:\d+|{_NUMBER_WORD_RE})"


def to_number(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


# ---- scale factor ----------------------------------------------------------------------------------------------
_SCALE_PATTERNS = (
    re.compile(r"\b(\d+(?:\.\d+)?)\s*[x×]\b(?!\s*\d)|(?<![\w.])(\d+(?:\.\d+)?)\s*×(?!\s*\d)"),
    re.compile(r"(?<![\w.])[x×]\s*(\d+(?:\.\d+)?)\b"),
    re.compile(rf"\b({NUM})\s*times\b"),
    re.compile(rf"\b(?:up-?scal\w*|scal\w*|enlarg\w*|resolution|increas\w*|magnif\w*|multipl\w*|size|bigger|larger)"
               rf"(?: \w+){{0,4}}? by (?:a factor of |factor )?({NUM})\b"),
    re.compile(r"\bfactor (?:of )?(\d+)\b"),
)
_SCALE_WORDS = (("quadrupl", 4), ("fourfold", 4), ("four-fold", 4), ("tripl", 3), ("thrice", 3), ("threefold", 3),
                ("three-fold", 3), ("twice", 2), ("doubl", 2), ("twofold", 2), ("two-fold", 2))
_PERCENT = re.compile(r"\b(\d{1,4})\s*(?:%|percent)")
_SIZE_WORDS = re.compile(r"\b(?:bigger|larger|scale|size|enlarge|upscale|resize|smaller)\b")


def scale_factor(text: str, allow_fraction: bool = False) -> int | float | None:
    """The factor a request states ("4x", "×3", "four times", "twice", "quadruple", "by 300%"); None when it states
    none. Fractions (a 50 % resize) only with `allow_fraction`."""
    for pattern in _SCALE_PATTERNS:
        match = pattern.search(text)
        if match:
            raw = next(group for group in match.groups() if group is not None)
            value = float(raw) if re.fullmatch(r"\d+\.\d+", raw) else to_number(raw)
            if value and value <= 16:
                return int(value) if float(value).is_integer() else value
    for stem, value in _SCALE_WORDS:
        if re.search(rf"\b{re.escape(stem)}", text):
            return value
    match = _PERCENT.search(text)
    if match and _SIZE_WORDS.search(text):
        percent = int(match.group(1))
        if percent >= 100:
            return round(percent / 100) if percent % 100 == 0 else percent / 100
        if allow_fraction and percent > 0:
            return percent / 100
    return None


# ---- rotation --------------------------------------------------------------------------------------------------
_DEGREES = re.compile(r"(-?)(\d{1,3}(?:\.\d+)?)\s*(?:°|degrees?|degs?|deg)\b")
_ROTATE_NUMBER = re.compile(r"\b(?:rotat\w*|turn|spin)\b(?:\s+(?:it|this|that|the \w+(?: \w+)?|them))?"
                            r"(?:\s+(?:left|right|clockwise|counter-?clockwise|anti-?clockwise))?"
                            r"\s*(?:by|to)?\s*(-?)(\d{1,3})\b")
_BARE_NUMBER = re.compile(r"(?<![\w.])(-?)(\d+(?:\.\d+)?)\b(?! ?(?:%|x\b|px|pixels?|times))")
_COUNTER = re.compile(r"\b(?:counter ?-?clockwise|anti ?-?clockwise|ccw|acw|left|leftwards?)\b")
_CLOCKWISE = re.compile(r"\b(?:clockwise|cw|right|rightwards?)\b")


def rotation(text: str, clause: bool = False) -> tuple[int | float | None, str | None]:
    """(angle in degrees, "clockwise" | "counterclockwise") as stated, each None when not said. "-90 degrees"
    turns the other way; "upside down" is 180, "a quarter turn" or just a direction 90. With `clause` (the text is
    already one rotate clause), a bare number counts as the angle too ("rotate it 45")."""
    direction = ("counterclockwise" if _COUNTER.search(text) else
                 "clockwise" if _CLOCKWISE.search(text) else None)
    match = _DEGREES.search(text) or _ROTATE_NUMBER.search(text) or (_BARE_NUMBER.search(text) if clause else None)
    if match:
        number = float(match.group(2))
        angle = int(number) if number.is_integer() else number
        if match.group(1) == "-":
            direction = "clockwise" if direction == "counterclockwise" else "counterclockwise"
        return angle, direction
    if re.search(r"\bthree[- ]quarters?(?: of a)? turn|\b3 quarters? turn", text):
        return 270, direction
    if re.search(r"\b(?:half turn|half a turn|upside down|180)\b", text):
        return 180, direction
    if re.search(r"\b(?:full turn|full circle|all the way round)\b", text):
        return 360, direction
    if re.search(r"\bquarter turn|sideways\b", text) or direction is not None:
        return 90, direction
    return None, direction


# ---- size in pixels --------------------------------------------------------------------------------------------
SIZE = re.compile(r"\b(\d{1,5})\s*(?:x|×|\*|by)\s*(\d{1,5})(?:\s*(?:px|pixels))?\b")


def pixel_size(text: str) -> tuple[int, int] | None:
    """(width, height) from "1024x768", "640 by 480" or "800*600 px"; None without one."""
    match = SIZE.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None
