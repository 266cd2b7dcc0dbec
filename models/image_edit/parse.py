"""Turn an edit request in plain words into an operation and its arguments.

`parse_edit("rotate it left by ninety degrees")` → `{"operation": "rotate", "angle": 90, "direction":
"counterclockwise"}`. The text is normalised first (`words.normalise`: typos, number words, "black and
white"), then split into clauses at "and", "then", commas and semicolons; a clause that names no operation,
or the same one as the clause before ("width 800 and height 600"), is glued back to it. Each clause's
operation is the first rule of `_OPERATION_RULES` that matches — the order settles overlaps such as "turn it
black and white" (grayscale, not rotate) or "flip it upside down" (flip, not rotate). Several clauses give
`{"operations": [...]}` with the first one's keys repeated at the top level, so a caller that only reads
`operation` still sees the first edit. Nothing recognised gives `{}`. Pure Python, standard library only.
"""

from __future__ import annotations

import re

from core.quantities import pixel_size, rotation

from models.image_edit.words import normalise

OPERATIONS = ("rotate", "flip", "crop", "resize", "brightness", "contrast", "saturation", "grayscale", "sepia",
              "blur", "sharpen")

NUMBER = r"(\d+(?:\.\d+)?)"
_SMALL = re.compile(r"\b(a (?:little )?bit|a little|slightly|slight|little|a touch|touch|somewhat|a tad|tad|tiny|"
                    r"subtle|subtly|mild|mildly|gentle|gently|lightly|light|marginally|a smidge)\b")
_LARGE = re.compile(r"\b(a lot|lots|much|way|very|really|significantly|strongly|strong|heavily|heavy|hugely|"
                    r"greatly|a ton|considerably|extremely|super|massively|dramatically|intensely|far)\b")

_OPERATION_RULES: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("sharpen", r"\b(?:less|not|no|un|de|fix(?: the)?|remove(?: the)?|reduce(?: the)?)\s?-?blur"),
    ("blur", r"\b(?:less sharp|soften|softer)\b"),
    ("sepia", r"\bsepia(?![\s-]*free)"),  # before grayscale: "sepia-toned black and white" is sepia
    ("grayscale", r"\b(?:grayscale|monochrome|mono|noir|colou?rless|no colou?rs?|remove (?:the |all )?colou?rs?)\b"),
    ("saturation", r"\b(?:saturat\w*|desaturat\w*|vivid|vibrant|colou?rful|punchy|muted|more colou?r\w*|"
                   r"less colou?r\w*|colou?rs? pop)"),
    ("contrast", r"\bcontrast"),
    ("blur", r"\bblur"),
    ("sharpen", r"\b(?:sharp\w*|crisper|crisp|unsharp|deblur)"),
    ("brightness", r"\b(?:bright\w*|dark\w*|lighter|lighten\w*|dim|dimmer|exposure|expose|underexpose|overexpose)"),
    ("rotate", r"\b(?:flip|turn)\b.*\b\d+(?:\.\d+)? ?degrees?\b"),
    ("flip", r"\b(?:flip\w*|mirror\w*|flop)\b"),
    ("rotate", r"\b(?:rotat\w*|turn|spin|tilt|straighten|upside down|sideways|quarter turn|half turn|"
               r"clockwise|counterclockwise|anticlockwise|\d+(?:\.\d+)? ?degrees?)\b"),
    ("crop", r"\b(?:crop\w*|trim\w*|cut (?:off|away)|square|aspect|widescreen|\d+ ?: ?\d+|"
             r"(?:left|right|top|bottom|upper|lower) (?:half|third|quarter))\b"),
    ("resize", r"\b(?:resiz\w*|rescal\w*|scale|downscale|downsize|upsize|shrink|enlarge|smaller|bigger|larger|"
               r"halve|half (?:the )?size|double|twice|thumbnail|width|height|wide|tall|\d+ ?(?:x|by) ?\d+|"
               r"\d+(?:\.\d+)? ?(?:x|times)|\d+ ?(?:px|pixels?))\b"),
))

_SEPARATORS = re.compile(r"(\s*(?:,\s*|\s)(?:and then|then|and also|and|after that|afterwards|followed by|also|plus)"
                         r"\b\s*|\s*;\s*|\.\s+|,\s+(?=[a-z]))")


def parse_edit(text: str) -> dict:
    """Operation and arguments stated in `text`; `{}` when no edit is recognised."""
    clauses = _clauses(normalise(text))
    edits = [edit for edit in (_parse_clause(c) for c in clauses) if edit]
    if not edits:
        return {}
    if len(edits) == 1:
        return edits[0]
    return {**edits[0], "operations": edits}


def detect_operation(clause: str) -> str | None:
    for name, pattern in _OPERATION_RULES:
        if pattern.search(clause):
            return name
    return None


def _clauses(text: str) -> list[str]:
    pieces = _SEPARATORS.split(text)
    clauses = [pieces[0]]
    for separator, piece in zip(pieces[1::2], pieces[2::2]):
        operation, previous = detect_operation(piece), detect_operation(clauses[-1])
        if operation is None or previous is None or operation == previous:
            clauses[-1] += separator + piece
        else:
            clauses.append(piece)
    return clauses


def _parse_clause(clause: str) -> dict:
    operation = detect_operation(clause)
    if operation is None:
        return {}
    return {"operation": operation, **_ARGUMENT_PARSERS[operation](clause)}


def _number(value: str) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


# --- rotate and flip -------------------------------------------------------------------------------------------

def _rotate_args(clause: str) -> dict:
    angle, direction = rotation(clause, clause=True)  # core/quantities.py: the one rotation parser
    # "rotate it": a quarter turn, clockwise
    args = {"angle": 90 if angle is None else angle, "direction": direction or "clockwise"}
    if re.search(r"\b(?:keep|same|preserve|without changing|don'?t change)(?: the)? (?:size|dimensions|canvas)\b|"
                 r"\b(?:no|without|don'?t) expand", clause):
        args["expand"] = False
    fill = re.search(r"\b(?:fill(?:ed)?|pad(?:ded)?)(?: it)?(?: with| in)? (?:a |an )?([a-z]+)\b", clause) or \
        re.search(r"\b([a-z]+) (?:background|corners|fill|padding)\b", clause)
    if fill and fill.group(1) not in {"the", "with", "in", "and", "of", "new", "empty"}:
        args["fill"] = fill.group(1)
    return args


def _flip_args(clause: str) -> dict:
    vertical = re.search(r"\b(?:vertical\w*|upside down|top to bottom|top-to-bottom|up ?-?side|bottom to top|"
                         r"upwards|downwards|top and bottom)\b", clause)
    return {"axis": "vertical" if vertical else "horizontal"}


# --- crop ------------------------------------------------------------------------------------------------------

_ASPECT_WORDS = {"square": "1:1", "widescreen": "16:9", "wide screen": "16:9", "cinematic": "21:9",
                 "portrait": "3:4", "landscape": "4:3"}
_FRACTIONS = {"half": 50, "third": 100 / 3, "quarter": 25, "two thirds": 200 / 3}
_SIDE = {"left": "left", "right": "right", "top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom"}
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def _crop_args(clause: str) -> dict:
    named = dict(re.findall(r"\b(x|y|w|h|width|height|left|top|right|bottom)\s*[=:]\s*(\d+)", clause))
    if {"x", "y"} <= named.keys() and ({"w", "h"} <= named.keys() or {"width", "height"} <= named.keys()):
        x, y = int(named["x"]), int(named["y"])
        w, h = int(named.get("w", named.get("width"))), int(named.get("h", named.get("height")))
        return {"box": [x, y, x + w, y + h]}
    if {"left", "top", "right", "bottom"} <= named.keys():
        return {"box": [int(named[k]) for k in ("left", "top", "right", "bottom")]}
    numbers = re.findall(r"(?<![\d.])\d+(?![\d.:%])", clause)
    if len(numbers) >= 4 and "%" not in clause:
        left, top, right, bottom = (int(n) for n in numbers[:4])
        if right <= left or bottom <= top:  # written as x, y, width, height
            right, bottom = left + right, top + bottom
        return {"box": [left, top, right, bottom]}
    margins = _crop_margins(clause)
    if margins:
        return {"margins": margins}
    ratio = re.search(r"\b" + NUMBER + r" ?(?::|/| by | ?x ?) ?" + NUMBER + r"\b", clause)
    if ratio:
        a, b = _number(ratio.group(1)), _number(ratio.group(2))
        if max(a, b) <= 32:
            return {"aspect": f"{a}:{b}"}
        return {"size": [int(a), int(b)]}
    for word, aspect in _ASPECT_WORDS.items():
        if re.search(rf"\b{word}\b", clause):
            return {"aspect": aspect}
    return {}


def _crop_margins(clause: str) -> dict:
    """Percent to cut from each side: "10% from each side", "the left half", "20% off the top and bottom"."""
    part = re.search(r"\b(left|right|top|bottom|upper|lower) (half|third|quarter|two thirds)\b", clause)
    if part:
        side, fraction = _SIDE[part.group(1)], _FRACTIONS[part.group(2)]
        remove = re.search(r"\b(?:off|away|remove|delete|get rid|drop|cut out|without)\b", clause)
        return {side: round(fraction, 2)} if remove else {_OPPOSITE[side]: round(100 - fraction, 2)}
    percent = re.search(NUMBER + r" ?(?:%|percent)", clause)
    if not percent:
        return {}
    amount = _number(percent.group(1))
    sides = {_SIDE[s] for s in re.findall(r"\b(left|right|top|bottom|upper|lower)\b", clause)}
    if not sides and re.search(r"\b(?:the )?sides\b", clause) and not re.search(r"\b(?:each|every|all)", clause):
        sides = {"left", "right"}
    if not sides:  # "from each side", "all round", "off the edges", "crop 10%"
        sides = {"left", "right", "top", "bottom"}
    return {side: amount for side in ("left", "top", "right", "bottom") if side in sides}


# --- resize ----------------------------------------------------------------------------------------------------

_SHRINK = r"\b(?:shrink\w*|reduce\w*|smaller|down\w*|decrease\w*|less|lower|cut)\b"
_GROW = r"\b(?:enlarge\w*|increase\w*|bigger|larger|up\w*|grow|more|expand)\b"


def _resize_args(clause: str) -> dict:
    both = pixel_size(clause)  # core/quantities.py: the one size parser
    if both:
        return {"width": both[0], "height": both[1]}
    width = re.search(r"\b(\d+) ?(?:px|pixels?)? ?(?:wide|width|across)\b", clause) or \
        re.search(r"\bwidth\W+(?:(?:of|to|is|at|should|be|becomes)\W+)*(\d+)", clause)
    height = re.search(r"\b(\d+) ?(?:px|pixels?)? ?(?:tall|high|height)\b", clause) or \
        re.search(r"\bheight\W+(?:(?:of|to|is|at|should|be|becomes)\W+)*(\d+)", clause)
    if width or height:
        args = {}
        if width:
            args["width"] = int(width.group(1))
        if height:
            args["height"] = int(height.group(1))
        return args
    percent = re.search(NUMBER + r" ?(?:%|percent)", clause)
    if percent:
        p = float(percent.group(1)) / 100
        relative = re.search(r"\bby " + NUMBER + r" ?(?:%|percent)", clause)
        if relative and re.search(_SHRINK, clause):
            return {"scale": round(1 - p, 4)}
        if relative and re.search(_GROW, clause):
            return {"scale": round(1 + p, 4)}
        return {"scale": round(p, 4)}
    times = re.search(NUMBER + r" ?(?:x|times)\b", clause) or re.search(r"\bx ?" + NUMBER + r"\b", clause) or \
        re.search(r"\b(?:scale|factor)(?: of| by| to)? " + NUMBER + r"\b", clause)
    if times:
        factor = float(times.group(1))
        if re.search(_SHRINK, clause) and factor > 1:  # "3 times smaller"
            factor = 1 / factor
        return {"scale": round(factor, 4)}
    if re.search(r"\b(?:half|halve)\b", clause):
        return {"scale": 0.5}
    if re.search(r"\bquarter\b", clause):
        return {"scale": 0.25}
    if re.search(r"\b(?:twice|double)\b", clause):
        return {"scale": 2}
    if re.search(r"\btriple\b", clause):
        return {"scale": 3}
    side = re.search(r"\b(\d+) ?(?:px|pixels?)\b", clause) or \
        re.search(r"\b(?:to|max|maximum|longest side|long side|long edge)(?: of)? (\d+)\b", clause)
    if side:
        return {"long_side": int(side.group(1))}
    if re.search(r"\b(?:smaller|shrink|downscale|downsize)\b", clause):
        return {"scale": 0.75 if _SMALL.search(clause) else 0.5}
    if re.search(r"\b(?:bigger|larger|enlarge|upsize)\b", clause):
        return {"scale": 1.25 if _SMALL.search(clause) else 2}
    return {}


# --- colour and detail -----------------------------------------------------------------------------------------

_MORE_WHEN_TOO = r"\btoo (?:dark|dim|dull|flat|muted|washed|gr[ae]y|soft|pale|bland)\b"
_LESS_WHEN_TOO = r"\btoo (?:bright|light|saturated|vivid|colou?rful|contrasty|harsh|strong|punchy|intense)\b"
_LESS = (r"\b(?:less|lower\w*|decrease\w*|reduce\w*|down|drop|dark|darker|darken\w*|dim|dimmer|weaker|weaken|"
         r"fewer|minus|tone down|dull|duller|muted|mute|flatter|flatten|underexpose\w*|cut|desaturat\w*)\b")


def _colour_args(clause: str) -> dict:
    if re.search(_MORE_WHEN_TOO, clause):
        decrease = False
    elif re.search(_LESS_WHEN_TOO, clause):
        decrease = True
    else:
        decrease = bool(re.search(_LESS, clause)) or bool(re.search(r"(?<![\w.])-\s?\d", clause))
    absolute = re.search(r"\bto " + NUMBER + r" ?(?:%|percent)", clause)
    if absolute:
        return {"factor": round(float(absolute.group(1)) / 100, 4)}
    explicit = re.search(r"\b(?:factor(?: of)?|times|x) ?" + NUMBER, clause) or \
        re.search(NUMBER + r" ?x\b", clause) or re.search(r"(?<![\w.])(\d+\.\d+)\b(?! ?%)", clause)
    if explicit:
        return {"factor": round(float(explicit.group(1)), 4)}
    percent = re.search(NUMBER + r" ?(?:%|percent)", clause)
    if percent:
        p = float(percent.group(1)) / 100
        return {"factor": round(max(0.0, 1 - p) if decrease else 1 + p, 4)}
    if re.search(r"\bdesaturat", clause):
        return {"factor": 0.75 if _SMALL.search(clause) else 0.25 if _LARGE.search(clause) else 0.5}
    step = 1.15 if _SMALL.search(clause) else 1.6 if _LARGE.search(clause) else 1.3
    return {"factor": round(1 / step, 2) if decrease else step}


def _blur_args(clause: str) -> dict:
    region = re.search(r"\b(background|foreground|face|faces|sky|subject|person|edges)\b", clause)
    if region:  # only the whole image can be blurred here; the backend says so rather than blur everything
        return {"region": region.group(1)}
    radius = re.search(r"\bradius (?:of |to |= ?)?" + NUMBER, clause) or \
        re.search(NUMBER + r" ?(?:px|pixels?)\b", clause) or re.search(r"\bblur\w*(?: it)?(?: by)? " + NUMBER, clause)
    if radius:
        return {"radius": _number(radius.group(1))}
    if _SMALL.search(clause) or re.search(r"\b(?:less sharp|soften|softer)\b", clause):
        return {"radius": 2}
    if _LARGE.search(clause):
        return {"radius": 10}
    return {"radius": 4}


def _sharpen_args(clause: str) -> dict:
    if _SMALL.search(clause):
        return {"strength": "light"}
    if _LARGE.search(clause):
        return {"strength": "strong"}
    return {"strength": "medium"}


_ARGUMENT_PARSERS = {
    "rotate": _rotate_args, "flip": _flip_args, "crop": _crop_args, "resize": _resize_args,
    "brightness": _colour_args, "contrast": _colour_args, "saturation": _colour_args,
    "grayscale": lambda clause: {}, "sepia": lambda clause: {}, "blur": _blur_args, "sharpen": _sharpen_args,
}
