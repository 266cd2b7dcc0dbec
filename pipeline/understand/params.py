"""Generic parameters stated in a chat message, and clamping them to what the capabilities accept.

`extract_params(text, intent)` reads what the user said — counts ("4 images", "two versions"), pixel sizes
("1024x768", "800 by 600", "640 wide"), aspect ratios ("16:9", "square"), seed, steps, upscale factor ("4x",
"twice as big", "quadruple"), rotation angle, the edit operation and its strength ("a bit brighter"), the
object to erase, the art style, negative terms ("no people, without text") and a replacement background
("on white", "transparent") — in words as well as digits. Values are what the text states; `clamp_params`
then fits them to the limits (count 1–8, sides 64–2048 in multiples of 8, steps 1–150, upscale 2–4…) and
says what it changed, for the reply. Standard library only.
"""

from __future__ import annotations

import re

from core.quantities import NUM as _NUM, SIZE as _SIZE, pixel_size, rotation, scale_factor, to_number
from pipeline.understand.wordlists import COLOURS, IMAGE_NOUNS, NUMBER_WORDS, STYLE_TERMS, normalise

# ---- numbers ------------------------------------------------------------------------------------------------
def _words_to_digits(text: str) -> str:
    """'thirty steps' → '30 steps', 'ninety degrees' → '90 degrees' (compound tens: 'forty five' → 45)."""
    def compound(m):
        return str(NUMBER_WORDS[m.group(1)] + NUMBER_WORDS[m.group(2)])
    text = re.sub(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[\s-]+(one|two|three|four|five|six|seven|"
                  r"eight|nine)\b", compound, text)
    text = re.sub(r"\b(?:one |a )?hundred (?:and )?(eighty|twenty|fifty|forty|sixty|seventy|ninety|thirty|ten)\b",
                  lambda m: str(100 + NUMBER_WORDS[m.group(1)]), text)
    text = re.sub(r"\b(?:two hundred (?:and )?seventy|two seventy)\b", "270", text)
    return re.sub(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|one hundred|a hundred|hundred|ten|"
                  r"twelve|fifteen|sixteen|eleven)\b(?=\s*(?:steps|degrees|°|%|percent|px|pixels))",
                  lambda m: str(NUMBER_WORDS[m.group(1)]), text)


# ---- patterns -----------------------------------------------------------------------------------------------
_IMAGE_NOUN = "|".join(sorted(IMAGE_NOUNS, key=len, reverse=True))
_COUNT = re.compile(rf"\b({_NUM})\s+(?:more\s+|different\s+|new\s+|distinct\s+|unique\s+|separate\s+|other\s+|"
                    rf"alternative\s+|quick\s+|possible\s+|\w+\s+)?(?:{_IMAGE_NOUN})\b|\b({_NUM}) of (?:them|these|those)\b"
                    rf"|\b(?:batch|set|grid) of ({_NUM})\b|\bcount\s*[:=]\s*(\d+)|\bn\s*=\s*(\d+)\b"
                    rf"|\b({_NUM})\s+more\s+(?:just\s+)?(?:like|similar|of)\b")
_WIDTH = re.compile(r"\b(?:width|w)\s*(?:[:=]|of|to)?\s*(\d{2,5})\b|\b(\d{2,5})\s*(?:px|pixels)?\s*(?:wide|width)\b")
_HEIGHT = re.compile(r"\b(?:height|h)\s*(?:[:=]|of|to)?\s*(\d{2,5})\b|\b(\d{2,5})\s*(?:px|pixels)?\s*(?:tall|high|height)\b")
_ASPECT = re.compile(r"\b(\d{1,2})\s*:\s*(\d{1,2})\b")
_SEED = re.compile(r"\bseed(?:ed)?\s*(?:[:=#]|number|no\.?|of|is|to|with|value)?\s*#?\s*(\d+)\b"
                   r"|\b(\d+)\s+as (?:the |a )?seed\b")
_STEPS = re.compile(r"\b(\d+)\s*(?:sampling |inference |denoising |diffusion |generation )?steps?\b"
                    r"|\bsteps?\s*(?:[:=]|of|to|at)?\s*(\d+)\b")
_PERCENT = re.compile(r"\b(\d{1,4})\s*(?:%|percent)")

_OPERATIONS: tuple[tuple[str, re.Pattern], ...] = (
    ("sepia", re.compile(r"\bsepia(?![\s-]*free)")),
    ("grayscale", re.compile(r"\b(?:black\s*-?\s*(?:and|&|n)\s*-?\s*white|b\s*[&/]\s*w|gr[ae]y\s*-?\s*scale|monochrome|"
                             r"remove (?:the |all )?colou?rs?|no colou?rs?|colou?rless|"
                             r"desaturate (?:it )?(?:completely|fully))\b")),
    ("rotate", re.compile(r"\b(?:rotat\w*|roate|spin it|turn (?:it|this|that|the \w+)\s*(?:\d|upside|sideways|left|right|"
                          r"clockwise|counter|anti|by|90|180)|straighten|quarter turn|sideways)\w*")),
    ("flip", re.compile(r"\b(?:flip\w*|mirror\w*)")),
    ("crop", re.compile(r"\b(?:crop\w*|trim\w*|cut off)")),
    ("resize", re.compile(r"\b(?:resiz\w*|rescale|downscale|downsize|shrink\w*|scale (?:it |this |that )?down|"
                          r"make (?:it|this|that) (?:smaller|\d+\s*(?:x|by)\s*\d+)|reduce the (?:size|dimensions)|"
                          r"smaller)\b")),
    ("brightness", re.compile(r"\b(?:bright\w*|brigther|darker|darken\w*|lighter|lighten\w*|exposure|dimmer|too dark)\b")),
    ("contrast", re.compile(r"\b(?:contrast\w*|contarst)\b")),
    ("saturation", re.compile(r"\b(?:saturat\w*|desaturat\w*|vivid|vibrant|colou?rs? pop|more colou?rful|colou?r[\s-]?boost\w*|"
                              r"tone down the colou?rs?|punchier colou?rs?|less colou?rful)\b")),
    ("blur", re.compile(r"\b(?:blur\w*|soften\w*|gaussian|out of focus|defocus\w*)\b")),
    ("sharpen", re.compile(r"\b(?:sharp\w*|crisp\w*)\b")),
)
_DECREASE = re.compile(r"\b(?:darker|darken\w*|less|reduce\w*|lower\w*|decrease\w*|down|dimmer|tone down|desaturat\w*|"
                       r"softer|weaker|minus|-\s*\d)\b")
_SMALL = re.compile(r"\b(?:a (?:little|bit|touch|tad)(?: bit)?|slightly|somewhat|a little more|subtl[ey]|gently|barely|"
                    r"just a bit|a smidge|mildly)\b")
_LARGE = re.compile(r"\b(?:a lot|much|way|very|really|significantly|heavily|strongly|massively|super|extremely|tons)\b")

_REMOVE_VERB = (r"(?:remove|erase|delete|get rid of|take out|take away|eliminate|clean up|clear|cut out|wipe out|"
                r"wipe|edit out|paint out|photoshop out|lose|ditch|fix|retouch|remvoe|eras|get ridd of|rid of|"
                r"removing|erasing|deleting|getting rid of|taking out|eliminating|wiping out|cleaning up)")
_TARGET_PATTERNS = (
    re.compile(rf"\b{_REMOVE_VERB}\s+(?P<t>.+)"),
    re.compile(r"\bmake (?P<t>.+?) (?:disappear|vanish|go away)\b"),
    re.compile(r"\bi (?:want|need) (?P<t>.+?) gone\b"),
    re.compile(r"\b(?:there'?s|there is|there are) (?P<t>.+?)(?:[,.;]| in | on | at |$)"),
    re.compile(r"\b(?P<t>.+?) (?:should not|shouldn'?t) be there\b"),
    re.compile(r"\btake (?P<t>.+?) out\b"),
)
_IMAGE_REFERENCE = (r"(?:the|this|that|my|your|our|his|her|these|those)?\s*(?:old |last |previous |generated |original |"
                    r"first |second |above |new )*(?:photo|image|picture|pic|shot|one|selfie|photograph|it|frame|scene)s?")
_TARGET_TAIL = re.compile(rf"\s+(?:from|in|on|off|of|out of)\s+{_IMAGE_REFERENCE}\b.*$"
                          r"|\s+(?:please|pls|for me|completely|entirely|altogether|here|there)\b.*$"
                          r"|\s+(?:from|in|of|on|off) (?:it|that|this|them)\s*$|\s*[,.!?;].*$"
                          r"|\s+(?:and (?:make|fill|replace|keep)|so that)\b.*$")
_PRONOUNS = {"it", "this", "that", "them", "him", "her", "these", "those", "this one", "that one", "what i marked",
             "what i painted", "everything"}
_LEADING_WORDS = re.compile(r"^(?:(?:the|teh|a|an|this|that|those|these|all(?: of)?(?: the)?|any|my|his|her|their|our|some|"
                            r"every|each|that annoying|annoying|ugly)\s+)+")

_STYLE_CONTEXT = (
    re.compile(r"\bin (?:the |a |an )?style of (?P<s>[\w\s'.-]+?)(?=$|[,.!?;]| please| pls| for me| on | to | with )"),
    re.compile(r"\b(?:painted|drawn|done|made) by (?P<s>[\w\s'.-]+?)(?=$|[,.!?;]| please| pls)"),
    re.compile(r"\blook(?:s|ing)? like (?:a |an |the )?(?P<s>[\w\s'&.-]+?)(?=$|[,.!?;]| please| pls| for me| would)"),
    re.compile(r"\b(?:into|to|as) (?:a |an |the )?(?P<s>[\w\s'&.-]+?)(?=$|[,.!?;]| please| pls| for me| style\b)"),
    re.compile(r"\b(?:give (?:it|this|that|me|the \w+) |apply |add |with )(?:a |an |the )?(?P<s>[\w\s'&.-]+?) "
               r"(?:look|effect|filter|aesthetic|style|vibe|feel|treatment)\b"),
    re.compile(r"\b(?:in |make it |make this |do (?:it|this) in )?(?P<s>[\w'&.-]+(?: [\w'&.-]+)?)[\s-]style\b"),
    re.compile(r"\blike (?P<s>[\w\s'.-]+?) would\b"),
)
_STYLE_NOISE = re.compile(r"^(?:an?|the|my|this|that|it|me|style|art|some|very|more|photo|image|picture|pic|selfie)\s+"
                          r"|\s+(?:style|look|effect|"
                          r"filter|version|please|pls|aesthetic|vibe)$")
_KNOWN_STYLE = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in sorted(STYLE_TERMS, key=len, reverse=True))
                          + r")(?![\w-])")

NEGATIVE_PHRASE = re.compile(
    r"(?:^|[\s,;(])(?:without|no|not|avoid(?:ing)?|exclude|excluding|minus|free of|sans|"
    r"don'?t (?:include|add|show|want)|do not (?:include|add|show)|never)\s+(?:any\s+|the\s+|a\s+|an\s+)?"
    r"(?P<n>[a-z][\w'-]*(?:\s+(?!(?:and|or|but|with|in|on|at|for|to|of|please|pls|seed|steps)\b)[a-z][\w'-]*){0,3}"
    r"(?:\s*(?:,|\bor\b|\band\b|\bnor\b)\s*(?!no\b|not\b|without\b)[a-z][\w'-]*(?:\s+(?!(?:and|or|but|with|in|on|"
    r"at|for|to|of|please|pls|seed|steps)\b)[a-z][\w'-]*){0,2})*)")
_NOT_NEGATIVE_STARTS = {"more", "longer", "need", "matter", "problem", "thanks", "way", "idea", "sure", "too", "very",
                        "so", "quite", "really", "just", "only", "even", "one", "bad", "losing", "changing", "loss",
                        "doubt", "rush", "worries", "the", "background", "bg", "backdrop", "that", "this", "it"}

_TRANSPARENT = re.compile(r"\b(?:transparen\w*|alpha|no (?:background|bg)|without (?:a |the |any )?(?:background|bg)|"
                          r"png (?:with|without))\b")
_COLOUR = "|".join(re.escape(c) for c in sorted(COLOURS, key=len, reverse=True))
_BACKGROUND_COLOUR = (
    re.compile(rf"\b(?P<c>{_COLOUR})\s+(?:solid |plain |flat |studio )?(?:background|backdrop|bg|backround|backgorund)\b"),
    re.compile(rf"\b(?:background|backdrop|bg)\b(?:(?!\b(?:and|then)\b)[^.,;])*?\b(?:to|with|in|as|into|:|for)\s+(?:an? |the )?(?:solid |plain |"
               rf"pure |flat |clean |simple )?(?P<c>{_COLOUR})\b"),
    re.compile(rf"\b(?:on|against|over|onto) (?:an? |the )?(?:solid |plain |pure |flat |clean |simple )?(?P<c>{_COLOUR})\b"),
    re.compile(rf"\b(?:background|backdrop|bg)\s*[:=]?\s*(?P<c>{_COLOUR})\b"),
)


# ---- extraction ---------------------------------------------------------------------------------------------
def extract_params(text: str, intent) -> dict:
    """The parameters `text` states, for `intent` (a name or an object with `.name`). Absent = not stated."""
    name = getattr(intent, "name", intent) or ""
    lowered = _words_to_digits(normalise(text))
    params: dict = {}
    sized = _sizes(lowered, params)
    _aspect(sized, params)
    _number(params, "seed", _SEED, sized)
    if name in ("image_generation", "style_transfer", ""):
        _number(params, "steps", _STEPS, sized)
    count = _count(sized)
    if count is not None:
        params["count"] = count
    if name in ("upscale", "image_edit", ""):
        scale = scale_factor(sized, allow_fraction=name == "image_edit")
        if scale is not None:
            params["scale"] = scale
    if name in ("image_edit", ""):
        _edit(lowered, sized, params)
        if params.get("operation") == "rotate":
            params.pop("scale", None)
    if name == "object_removal":
        target = _target(lowered)
        if target:
            params["target"] = target
    if name in ("style_transfer", "image_generation"):
        style = _style(lowered)
        if style:
            params["style"] = style
        negative = extract_negative(text)
        if negative:
            params["negative"] = negative
    if name == "background_removal":
        background = _background(lowered)
        if background:
            params["background"] = background
    return params


def _first_int(match: re.Match) -> int | None:
    for group in match.groups():
        if group is not None:
            value = to_number(group)
            if value is not None:
                return value
    return None


def _sizes(lowered: str, params: dict) -> str:
    """Width/height from '1024x768' or 'width 640'; returns the text with the size phrases blanked out."""
    match = _SIZE.search(lowered)
    if match:
        a, b = pixel_size(match.group(0))
        if a >= 32 and b >= 32:
            params["width"], params["height"] = a, b
            return lowered[:match.start()] + " " + lowered[match.end():]
        if a <= 32 and b <= 32:  # "16x9", "16 by 9": a ratio, not pixels
            params.setdefault("aspect", f"{a}:{b}")
            return lowered[:match.start()] + " " + lowered[match.end():]
    for key, pattern in (("width", _WIDTH), ("height", _HEIGHT)):
        match = pattern.search(lowered)
        if match:
            if not _DESCRIBES_NOW.search(lowered[:match.start()]):  # "it's only 800px wide": the size it has
                params[key] = _first_int(match)
            lowered = lowered[:match.start()] + " " + lowered[match.end():]
    return lowered


_DESCRIBES_NOW = re.compile(r"\b(?:it'?s|it is|this is|that'?s|is|was|are|currently|only|just|barely|right now)"
                            r"(?:\s+(?:only|just|about|around|roughly|barely))?\s*$")


def _aspect(lowered: str, params: dict) -> None:
    match = _ASPECT.search(lowered)
    if match:
        params["aspect"] = f"{int(match.group(1))}:{int(match.group(2))}"
    elif "aspect" not in params:
        if re.search(r"\bsquare\b", lowered):
            params["aspect"] = "1:1"
        elif re.search(r"\bwidescreen\b|\bcinematic wide\b", lowered):
            params["aspect"] = "16:9"


def _number(params: dict, key: str, pattern: re.Pattern, lowered: str) -> None:
    match = pattern.search(lowered)
    if match:
        value = _first_int(match)
        if value is not None:
            params[key] = value


_POINTS_AT = re.compile(r"\b(?:these|those|the|both|my|our|his|her|their|your|between|of|from|in|on)\s*$")


def _count(lowered: str) -> int | None:
    for match in _COUNT.finditer(lowered):
        value = _first_int(match)
        if value is None or re.match(r"\d+\s*(?:x|times)\b", lowered[match.start():]):
            continue
        if _POINTS_AT.search(lowered[:match.start()]):  # "swap faces between these two pics": pictures given
            continue
        return value
    return None


def _edit(lowered: str, sized: str, params: dict) -> None:
    found = [(m.start(), op) for op, pattern in _OPERATIONS for m in [pattern.search(lowered)] if m]
    if not found:
        return
    operation = min(found)[1]
    params["operation"] = operation
    if operation == "rotate":
        angle, direction = rotation(sized)
        if angle is not None:
            params["angle"] = abs(angle)
        if direction is not None:
            params["direction"] = direction
    elif operation == "flip":
        params["direction"] = "vertical" if re.search(r"\bvertical\w*|upside|top to bottom", lowered) else "horizontal"
    elif operation in ("brightness", "contrast", "saturation", "blur", "sharpen"):
        percent = _PERCENT.search(lowered)
        if percent:
            amount = min(int(percent.group(1)), 300) / 100
        else:
            amount = 0.15 if _SMALL.search(lowered) else 0.6 if _LARGE.search(lowered) else 0.3
        if operation in ("blur", "sharpen"):
            params["strength"] = round(amount, 2)
        else:
            sign = -1 if _DECREASE.search(lowered) else 1
            params["factor"] = round(max(0.05, 1 + sign * amount), 2)


def _target(lowered: str) -> str | None:
    for pattern in _TARGET_PATTERNS:
        match = pattern.search(lowered)
        if match:
            target = _TARGET_TAIL.sub("", match.group("t")).strip()
            target = _LEADING_WORDS.sub("", target).strip(" ,.'\"")
            if target and target not in _PRONOUNS:
                return target
    return None  # "remove it" alone: the thing is in the painted mask, not in the words


_STYLE_VERBS = {"toonify": "cartoon", "ghiblify": "studio ghibli", "pixelate": "pixel art", "pixelize": "pixel art",
                "pop art it": "pop art"}
_STYLE_WORDS = frozenset(STYLE_TERMS)


def _style(lowered: str) -> str | None:
    """The style phrase as the user wrote it ('van gogh painting', 'pencil sketch', 'ukiyo-e')."""
    for verb, style in _STYLE_VERBS.items():
        if re.search(rf"\b{re.escape(verb)}\w*", lowered):
            return style
    for match in re.finditer(r"\b([a-z]+)-?(?:i?fy|ified|ize|ise|ized|ised)\b", lowered):  # "mosaic-ify"
        for stem in (match.group(1), match.group(1).removesuffix("i")):  # "cartooni|fy" as well as "anime|fy"
            if stem in _STYLE_WORDS:
                return stem
    for pattern in _STYLE_CONTEXT:
        for match in pattern.finditer(lowered):
            phrase = _clean_style(match.group("s"))
            if phrase and _KNOWN_STYLE.search(phrase):
                return phrase
    known = [m for m in _KNOWN_STYLE.finditer(lowered)]
    if known:
        best = max(known, key=lambda m: (len(m.group(0)), -m.start()))
        return best.group(0)
    match = re.search(r"\bin (?:the )?style of (?P<s>[\w\s'.-]+?)(?=$|[,.!?;])", lowered)
    return _clean_style(match.group("s")) if match else None


def _clean_style(phrase: str) -> str:
    phrase = phrase.strip(" -'.")
    for _ in range(3):
        phrase = _STYLE_NOISE.sub("", phrase).strip()
    phrase = re.sub(r"^(?:this|the|my|it|that)(?: \w+)? (?:in|into|as|to) (?:an? |the )?", "", phrase)
    return phrase


_MJ_NO = re.compile(r"--no\s+(?P<n>[^-]+?)(?=\s+--|$)")
_CLAUSE_BREAK = re.compile(r"\s*(?:,|;|\.)?\s*\b(?:and then|then|after that|afterwards|next|followed by)\b.*$"
                           r"|\s*[,;.]\s*(?:and\s+)?(?:make|turn|upscale|remove|erase|rotate|flip|crop|add|give|put|"
                           r"convert|change|apply|sharpen|blur|brighten|darken|enlarge|style|cut)\b.*$")


def extract_negative(text: str) -> list[str]:
    """Terms the user does not want: 'no people, no text' → ['people', 'text'] (order kept, no repeats), and
    Midjourney's '--no text, frames'. A list ends where the next clause begins ('no text, then make the…')."""
    lowered = normalise(text)
    terms: list[str] = []
    for match in _MJ_NO.finditer(lowered):
        for part in re.split(r"\s*(?:,|\bor\b|\band\b)\s*", match.group("n")):
            part = part.strip(" .'\"")
            if part and part not in terms:
                terms.append(part)
    lowered = _MJ_NO.sub(" ", lowered)
    for match in NEGATIVE_PHRASE.finditer(lowered):
        listed = _CLAUSE_BREAK.sub("", lowered[match.start("n"):match.end("n")])
        for part in re.split(r"\s*(?:,|\bor\b|\band\b|\bnor\b)\s*", listed):
            part = re.sub(r"^(?:(?:avoid(?:ing)?|no|not|without|exclude|excluding|any|the|a|an|other)\s+)+", "",
                          part.strip(" .'\""))
            first = part.split(" ", 1)[0] if part else ""
            if part and first not in _NOT_NEGATIVE_STARTS and part not in terms:
                terms.append(part)
    return terms


# "black and white" names an edit, never a background colour.
_NOT_A_BACKGROUND = re.compile(r"\bblack\s*(?:and|&|n|-n-|-and-)\s*white\b|\bb\s*[&/]\s*w\b")


def _background(lowered: str) -> str | None:
    lowered = _NOT_A_BACKGROUND.sub(" ", lowered)
    found = []
    transparent = _TRANSPARENT.search(lowered)
    if transparent:
        found.append((transparent.start(), "transparent"))
    for pattern in _BACKGROUND_COLOUR:
        match = pattern.search(lowered)
        if match:
            found.append((match.start("c"), match.group("c")))
    if not found:
        return None
    colour = min(found)[1]
    return "gray" if colour == "grey" else colour


# ---- limits -------------------------------------------------------------------------------------------------
