"""Text clean-up before an edit request is parsed: lower case, typo repair, number words to digits.

`normalise(text)` makes the phrasings the parser has to handle fewer: it lower-cases, unifies symbols
(`×`, `°`, curly quotes), folds "black and white", "b&w" and "grey scale" into the one word `grayscale` (so
the "and" inside it is not read as joining two edits), repairs misspelt keywords with difflib ("roate",
"brigther", "contarst") and writes number words as digits ("ninety" → 90, "one hundred and eighty" → 180).
Pure Python, standard library only.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

# Words the parser looks for; a misspelt token close to one of them is replaced by it.
KEYWORDS = (
    "rotate", "rotation", "rotated", "clockwise", "counterclockwise", "anticlockwise", "sideways", "upside",
    "degrees", "horizontal", "horizontally", "vertical", "vertically", "mirror", "flipped",
    "crop", "cropped", "square", "landscape", "portrait", "widescreen", "percent",
    "resize", "resized", "rescale", "smaller", "bigger", "larger", "shrink", "enlarge", "double", "twice",
    "width", "height", "pixels",
    "bright", "brighter", "brighten", "brightness", "darker", "darken", "lighter", "lighten", "exposure",
    "contrast", "saturation", "saturate", "saturated", "desaturate", "vivid", "vibrant", "colourful", "colorful",
    "grayscale", "greyscale", "monochrome", "black", "white", "sepia",
    "blur", "blurry", "blurred", "sharpen", "sharper", "sharpness",
    "slightly", "little", "quarter", "transparent", "background",
)
# Real words that resemble a keyword closely enough to be "corrected" into it by mistake.
KNOWN_WORDS = frozenset(KEYWORDS) | {
    "right", "light", "lights", "night", "sight", "tight", "weight", "heights", "widths", "wider", "taller",
    "higher", "lower", "bottom", "corner", "corners", "sides", "edges", "border", "borders", "image", "images",
    "photo", "photos", "picture", "please", "could", "would", "should", "about", "there", "their", "these",
    "those", "times", "third", "thirds", "aspect", "ratio", "pixel", "scale", "scaled", "upscale", "downscale",
    "flip", "flips", "turn", "turned", "tilt", "straighten", "colour", "color", "colours", "colors", "blurs",
    "heavily", "strongly", "lightly", "gently", "subtle", "subtly", "sharp", "crisp", "crisper", "clearer",
    "little", "bitty", "touch", "much", "really", "degree", "fill", "filled", "black", "make", "brightly",
    "decrease", "increase", "reduce", "raise", "lessen", "boost", "dimmer", "darkest", "brightest", "across",
    "after", "again", "thanks", "thank", "while", "which", "where", "other", "start", "large", "small",
    "seven", "eight", "eighty", "three", "thirty", "fifty", "sixty", "seventy", "ninety", "forty", "twenty",
    "eleven", "twelve", "fifteen", "sixteen", "eighteen", "nineteen", "hundred", "thousand",
}

_SYMBOLS = {"×": "x", "°": " degrees ", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "＋": "+"}

_GRAYSCALE_PHRASES = re.compile(
    r"\b(?:black\s*(?:and|&|n|-n-)\s*white|black-and-white|b\s*&\s*w|b\s*/\s*w|gr[ae]y[\s-]?scale)\b")

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_NUMBER_WORD = r"(?:" + "|".join(sorted([*_UNITS, *_TENS, "hundred", "thousand"], key=len, reverse=True)) + r")"
_NUMBER_SEQUENCE = re.compile(rf"\b{_NUMBER_WORD}(?:(?:[\s-]+|\s+and\s+){_NUMBER_WORD})*\b")
# A lone "one" is usually a pronoun ("rotate this one"); it is a number only before a unit.
_UNIT_AFTER = re.compile(r"\s*(?:degrees?|deg|percent|%|times|x\b|pixels?|px|third|quarter|half)")


def normalise(text: str) -> str:
    text = (text or "").lower()
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    text = re.sub(r"[a-z]+", lambda m: _repair(m.group(0)), text)
    text = _GRAYSCALE_PHRASES.sub(" grayscale ", text)
    text = re.sub(r"\ban? hundred\b", "one hundred", text)
    text = re.sub(r"\b(?:one|1)[- ](?:eighty|80)\b", "180", text)  # spoken "a one-eighty"
    text = re.sub(r"\b(?:two|2)[- ](?:seventy|70)\b", "270", text)
    text = re.sub(r"\b(\d+|one|two|three) and a half\b", lambda m: f"{_to_int(m.group(1))}.5", text)
    text = _NUMBER_SEQUENCE.sub(_number_words_to_digits, text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=4096)
def _repair(token: str) -> str:
    if len(token) < 5 or token in KNOWN_WORDS:
        return token
    match = difflib.get_close_matches(token, KEYWORDS, n=1, cutoff=0.8)
    return match[0] if match else token


def _to_int(word: str) -> int:
    return int(word) if word.isdigit() else _UNITS[word]


def _number_words_to_digits(match: re.Match) -> str:
    """Digits for a run of number words; "one forty-five" is two numbers, and a lone pronoun "one" stays."""
    words = [w for w in re.split(r"[\s-]+", match.group(0)) if w != "and"]
    groups: list[list] = []  # [words, value]
    for word in words:
        value = _UNITS.get(word, _TENS.get(word))
        if groups and _continues(groups[-1][1], word, value):
            group = groups[-1]
        else:
            group = [[], 0]
            groups.append(group)
        group[0].append(word)
        if word == "hundred":
            below_thousand = group[1] % 1000
            group[1] += (below_thousand or 1) * 100 - below_thousand
        elif word == "thousand":
            group[1] = (group[1] or 1) * 1000
        else:
            group[1] += value
    out = []
    for i, (group_words, value) in enumerate(groups):
        last = i == len(groups) - 1
        lone_one = group_words == ["one"] and not (last and _UNIT_AFTER.match(match.string, match.end()))
        out.append("one" if lone_one else str(value))
    return " ".join(out)


def _continues(current: int, word: str, value: int | None) -> bool:
    lower = current % 100
    if word == "hundred":
        return current % 1000 < 10
    if word == "thousand":
        return current < 1000
    if word in _TENS:
        return lower == 0
    return lower == 0 or (lower >= 20 and lower % 10 == 0 and value < 10)
