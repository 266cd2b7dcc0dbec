"""Generation parameters stated in a chat message, parsed with plain regular expressions (no heavy imports).

`parse_generation_params(text)` returns only what the text states: `mode` (generate, regenerate,
regenerate_exact, variation), `width`/`height`, `aspect`, `count`, `steps`, `seed`, `guidance`, `strength`,
`scheduler`, `negative` and, for regenerate/variation requests, `extra_prompt` (what the user added beyond the
command, e.g. "variation of this as a watercolor" → "watercolor"). It is exposed as the capability's
`parse_params`, whose result the pipeline merges over the router's generic parameters.
`strip_parameter_phrases` removes the same phrases from a prompt so "seed 7" is not drawn into the picture.
"""

from __future__ import annotations

import re

GENERATE, REGENERATE, REGENERATE_EXACT, VARIATION, SAFETY_FEEDBACK = (
    "generate", "regenerate", "regenerate_exact", "variation", "safety_feedback")
MODES = (GENERATE, REGENERATE, REGENERATE_EXACT, VARIATION, SAFETY_FEEDBACK)

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "a couple of": 2, "a pair of": 2, "single": 1}
_COUNT_NOUNS = r"(?:images?|pictures?|pics?|photos?|versions?|variations?|variants?|options?|takes?|renders?|ones)"

# A1111 sampler names (lower case) → the canonical name used in recipes and the `parameters` chunk.
SAMPLER_ALIASES = {
    "euler a": "Euler a", "euler ancestral": "Euler a", "euler_a": "Euler a", "euler": "Euler",
    "dpm++ 2m karras": "DPM++ 2M Karras", "dpm++ 2m": "DPM++ 2M", "dpmpp 2m": "DPM++ 2M", "dpm++": "DPM++ 2M",
    "ddim": "DDIM", "unipc": "UniPC", "lcm": "LCM", "heun": "Heun", "lms": "LMS", "pndm": "PLMS", "plms": "PLMS",
    "ddpm": "DDPM",
}
_SAMPLER_RE = "|".join(re.escape(k) for k in sorted(SAMPLER_ALIASES, key=len, reverse=True))

_SIZE = re.compile(r"(?<![\w.])(\d{2,4})\s*(?:x|×|\*|by)\s*(\d{2,4})(?:\s*(?:px|pixels?))?(?![\w.])", re.I)
_SQUARE_SIZE = re.compile(r"(?<![\w.])(\d{2,4})\s*(?:px|pixels?)(?:\s+square)?(?![\w])", re.I)
_ASPECT = re.compile(r"(?<![\w.:])(\d{1,2})\s*:\s*(\d{1,2})(?![\w.:])")
_ASPECT_WORDS = ((re.compile(r"\bwide\s*screen\b|\bwidescreen\b", re.I), "16:9"),
                 (re.compile(r"\b(?:in\s+)?portrait\s+(?:orientation|format|mode)\b|\bvertical\s+format\b", re.I), "2:3"),
                 (re.compile(r"\b(?:in\s+)?landscape\s+(?:orientation|format|mode)\b|\bhorizontal\s+format\b", re.I), "3:2"),
                 (re.compile(r"\bsquare\s+(?:format|image|picture|aspect)\b|\bin\s+square\b", re.I), "1:1"))
_COUNT = re.compile(r"(?<![\w.])(\d{1,2}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
                    + r")\s+(?:more\s+|different\s+|new\s+)?" + _COUNT_NOUNS + r"\b", re.I)
_COUNT_PHRASE = re.compile(_COUNT.pattern + r"(?:\s+of)?\s*", re.I)  # "4 images of " in a prompt
_BATCH = re.compile(r"\bbatch\s+(?:of|size)?\s*[:=]?\s*(\d{1,2})\b", re.I)
_STEPS = re.compile(r"(?<![\w.])(\d{1,3})\s*(?:sampling\s+|inference\s+|denoising\s+)?steps?\b|\bsteps?\s*[:=]?\s*(\d{1,3})\b", re.I)
_SEED = re.compile(r"\bseed\s*(?:[:=#]|of|is|number|no\.?)?\s*(\d{1,20})\b", re.I)
_GUIDANCE = re.compile(r"\b(?:guidance(?:\s+scale)?|cfg(?:\s+scale)?)\s*(?:[:=]|of|to|at)?\s*(\d{1,2}(?:\.\d+)?)", re.I)
_STRENGTH = re.compile(r"\b(?:strength|denoise|denoising(?:\s+strength)?)\s*(?:[:=]|of|to|at)?\s*(\d{1,3}(?:\.\d+)?)\s*(%)?", re.I)
_SCHEDULER = re.compile(r"\b(?:sampler|scheduler)\s*[:=]?\s*(" + _SAMPLER_RE + r")(?![\w+])|(?<![\w+])("
                        + _SAMPLER_RE + r")\s+(?:sampler|scheduler)\b", re.I)
_NEGATIVE = re.compile(r"\bnegative(?:\s+prompt)?\s*[:=]\s*([^\n;]+)", re.I)

_EXACT = re.compile(r"\b(?:same|identical)\s+seed\b|\bexact(?:ly)?\s+(?:the\s+)?same\b|"
                    r"\b(?:regenerate|redo|repeat|generate\s+it|make\s+it)\b[^.]*\bexact(?:ly)?\b|"
                    r"\breproduce\b", re.I)
_VARIATION = re.compile(r"\bvariations?\b|\bvariants?\b|\bvary\b|\bremix\b|"
                        r"\bsimilar\s+(?:image|picture|one|version)s?\b|\bsomething\s+(?:similar|like\s+(?:this|it))\b|"
                        r"\b(?:more|other)\s+(?:like|similar\s+to)\s+(?:this|that|it)\b", re.I)
_REGENERATE = re.compile(r"\bre-?generate\b|\bre-?roll\b|\bredo\b|\btry\s+again\b|\b(?:generate|make|do|draw|create)"
                         r"\s+(?:it|that|this)\s+again\b|\bagain\b|\banother\s+one\b|\bone\s+more\b|"
                         r"\b(?:new|different|another)\s+seed\b", re.I)
_SUBTLE = re.compile(r"\b(?:subtle|slight|small|minor|gentle|close)\b", re.I)
_STRONG = re.compile(r"\b(?:strong|wild|big|drastic|bold|very\s+different|crazy)\b", re.I)

_FILLER = set("""a an the of this that it its these those one ones image images picture pictures pic photo please
make me give some more few couple generate create draw render do can you could would i want like new
another but with and as in into to same again just version versions latest last previous now also then so
is be my your for but use using exactly exact seed different other""".split())


def parse_generation_params(text: str) -> dict:
    """Parameters the message states explicitly (keys absent when not stated)."""
    text = text or ""
    params: dict = {}
    mode = detect_mode(text)
    if mode != GENERATE:
        params["mode"] = mode
    size = _SIZE.search(text)
    if size:
        params["width"], params["height"] = int(size.group(1)), int(size.group(2))
    else:
        square = _SQUARE_SIZE.search(text)
        if square:
            params["width"] = params["height"] = int(square.group(1))
    aspect = _ASPECT.search(text)
    if aspect and 0.25 <= int(aspect.group(1)) / max(1, int(aspect.group(2))) <= 4 and int(aspect.group(1)) > 0:
        params["aspect"] = f"{int(aspect.group(1))}:{int(aspect.group(2))}"
    else:
        for pattern, ratio in _ASPECT_WORDS:
            if pattern.search(text):
                params["aspect"] = ratio
                break
    count = _COUNT.search(text) or _BATCH.search(text)
    if count:
        raw = count.group(1).lower()
        params["count"] = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    steps = _STEPS.search(text)
    if steps:
        params["steps"] = int(steps.group(1) or steps.group(2))
    seed = _SEED.search(text)
    if seed:
        params["seed"] = int(seed.group(1)) % 2**32
    guidance = _GUIDANCE.search(text)
    if guidance:
        params["guidance"] = float(guidance.group(1))
    strength = _strength(text)
    if strength is not None:
        params["strength"] = strength
    scheduler = _SCHEDULER.search(text)
    if scheduler:
        params["scheduler"] = SAMPLER_ALIASES[(scheduler.group(1) or scheduler.group(2)).lower()]
    negative = _NEGATIVE.search(text)
    if negative:
        params["negative"] = [w.strip() for w in negative.group(1).split(",") if w.strip()]
    if mode in (REGENERATE, REGENERATE_EXACT, VARIATION):
        extra = extra_prompt(text)
        if extra:
            params["extra_prompt"] = extra
    return params


def detect_mode(text: str) -> str:
    if _EXACT.search(text):
        return REGENERATE_EXACT
    if _VARIATION.search(text):
        return VARIATION
    if _REGENERATE.search(text):
        return REGENERATE
    return GENERATE


def _strength(text: str) -> float | None:
    match = _STRENGTH.search(text)
    if match:
        value = float(match.group(1))
        if match.group(2) or value > 1:
            value /= 100.0
        return max(0.0, min(1.0, value))
    if _VARIATION.search(text):
        if _SUBTLE.search(text):
            return 0.3
        if _STRONG.search(text):
            return 0.8
    return None


# Orientation words ("widescreen", "portrait format") stay: they read naturally in a prompt.
_PARAMETER_PHRASES = (_SIZE, _SQUARE_SIZE, _ASPECT, _COUNT_PHRASE, _BATCH, _STEPS, _SEED, _GUIDANCE, _STRENGTH,
                      _SCHEDULER, _NEGATIVE)


def strip_parameter_phrases(text: str) -> str:
    """The message without its parameter phrases ("64x64", "seed 7", "2 steps"…) and dangling separators."""
    for pattern in _PARAMETER_PHRASES:
        text = pattern.sub(" ", text)
    text = re.sub(r"\b(?:with|at|using|use|in|and)\s*(?=[,.;?!]|$)", " ", text.strip(), flags=re.I)
    text = re.sub(r"\s*([,;])(?:\s*[,;])+", r"\1", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ,;.:-")


def extra_prompt(text: str) -> str:
    """What a regenerate/variation request adds to the earlier prompt, or "" when it is only the command."""
    rest = strip_parameter_phrases(text)
    for pattern in (_COUNT, _BATCH, _EXACT, _VARIATION, _REGENERATE, _SUBTLE, _STRONG):
        rest = pattern.sub(" ", rest)
    words = re.findall(r"[\w'-]+|[^\w\s]", rest)
    while words and (words[0].lower() in _FILLER or not words[0][0].isalnum()):
        words.pop(0)
    while words and (words[-1].lower() in _FILLER or not words[-1][0].isalnum()):
        words.pop()
    if not any(w.lower() not in _FILLER and len(w) >= 3 for w in words):
        return ""
    joined = " ".join(words)
    return re.sub(r"\s+([,.;:!?])", r"\1", joined)
