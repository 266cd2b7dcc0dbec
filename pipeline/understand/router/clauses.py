"""Cutting a compound request into the clauses that may be steps, in the order the user wants them run.

`split_clauses(text)` cuts at strong connectors ("then", "after that", "once done", "and finally", ";", a new
sentence, and their Spanish/French/German/Portuguese/Italian/Japanese/Chinese counterparts) and at weak ones
("and", a comma, "also", "plus") only where a command follows and the words before it already form a command
("remove the watermark and upscale it", not "sharpen and upscale this", "black and white", "warm light in the
windows"). The order follows the connectors, not the position of the words: "before you X, Y", "Y, but first
X", "Y after X", "once X is done, Y" run X first. A subordinate clause is put in the imperative ("removing the
fence", "the logo is erased" → "remove the fence", "erase the logo") so it reads as the command it stands for.
Pure Python (`re`).
"""

from __future__ import annotations

import re

_STRONG = re.compile(
    r"\s*(?:"
    r"[;!]\s*(?:and\s+)?(?:then\s+)?|\.\s+(?=\S)|\s*(?:-+>|→|=>|⇒)\s*|"
    r",?\s*(?:and\s+|&\s+)?(?:then|after that|afterwards|afterward|after this|after which|following that|"
    r"once (?:that'?s|that is|this is|it'?s|it is|you'?re|you are) (?:done|finished|ready|over)|"
    r"once (?:done|finished|complete)|when (?:that'?s|it'?s|that is|it is|you'?re|you are) (?:done|finished|ready)|"
    r"when done|and finally|finally|to finish(?: (?:off|up|it off))?|to wrap (?:it )?up|as a final step|"
    r"(?:and\s+)?(?:finish|end|wrap (?:it )?up|top (?:it )?off|round (?:it )?off)(?: it)? (?:with|by)|"
    r"followed by|next(?!\s+(?:to|one|door|week|day|time|level|page)\b)|subsequently|lastly|last of all)\b,?\s*|"
    r"[,;]\s*(?:and\s+)?(?:second|third)(?:ly)?\b,?\s*|"
    # "upscale it, but first remove the bg": the cut keeps "first …", which `_reorder` moves to the front
    r",?\s*\bbut\s+(?=(?:first|before (?:that|this|doing that|(?:you|u) do(?: that| it| so)?|anything else)|"
    r"beforehand)\b)|"
    # es / pt / it / fr / de: "y luego", "y después", "e depois", "e poi", "puis", "ensuite", "dann", "danach"
    r",?\s*(?:y|e|et|und)?\s*(?:luego|despu[eé]s|depois|em seguida|poi|dopo|quindi|successivamente|puis|ensuite|"
    r"apr[eè]s [cç]a|dann|danach|anschlie[sß]end|au final|y finalmente|e infine|e por fim|et enfin|und zuletzt)\b,?\s*|"
    r",?\s*(?:pero|mas|mais|ma|aber)\s+(?=(?:primero|antes|d'abord|avant|prima|zuerst|vorher)\b)|"
    # ja / zh: "…てから", "その後", "然后", "之后", "再"
    r"(?:してから|て、|その後|そのあと|それから|次に|最後に|然后|之后|接着|最后|再把|再)"
    r")\s*", re.I)
_WEAK = re.compile(r"\s*(?:,\s*(?:and\s+|also\s+|plus\s+|but\s+)?|\s(?:and(?: also)?|&|also|plus|as well as|but)\s+|"
                   r"\s*\+\s*)\s*", re.I)
# A capability named without a verb after a command ("remove background + black and white").
_BARE_OPERATION = re.compile(r"^(?:black\s*(?:and|&|n)\s*white|b\s*[&/]\s*w|gr[ae]y\s*-?\s*scale|monochrome|sepia|"
                             r"upscal\w*(?: (?:to |by )?\d+x?)?|\d+x(?: upscale)?|(?:a |an )?\w+ (?:style|look|filter))$",
                             re.I)
# "1. remove the background 2. upscale 4x": a numbered list (only when the message opens with its first number).
_NUMBERED = re.compile(r"^\s*(?:\(?1[.)]|step (?:1|one)\s*[:.)-]?)\s", re.I)
_NUMBER_MARK = re.compile(r"(?:^|\s)(?:\(?\d{1,2}[.)]|step (?:\d{1,2}|one|two|three|four)\s*[:.)-]?)\s+", re.I)

# Words before a command that do not change it ("please", "could you", "and then", "start by").
_POLITE = (r"(?:(?:please|pls|plz|also|then|now|maybe|could you|can you|would you|can u|could u|and|just|lastly|"
           r"first|firstly|first of all|first thing|to start|start by|begin by|start with|begin with|go ahead and|"
           r"i want you to|i'd like you to|"
           r"i need you to)[\s,]+)*")
# Verbs that only open a command: after them comes what they act on, whatever it is.
_VERBS = (
    "remove", "erase", "delete", "get rid", "take out", "take away", "take off", "cut out", "clean up", "wipe",
    "lose", "ditch", "eliminate", "upscale", "up-scale", "upres", "enlarge", "enhance", "sharpen", "rotate", "flip",
    "resize", "shrink", "brighten", "darken", "lighten", "increase", "decrease", "boost", "reduce", "raise", "bump",
    "add", "apply", "make", "turn", "convert", "change", "stylize", "stylise", "restyle", "give", "put", "place",
    "swap", "replace", "switch", "generate", "create", "draw", "illustrate", "fix", "restore", "colorize",
    "colourize", "saturate", "desaturate", "transform", "adjust", "straighten", "invert", "isolate", "extract",
    "upsize", "super-resolve", "improve", "blow up", "bring", "redo", "regenerate", "pull", "knock",
    "punch", "crank", "pump", "push", "dial", "kill", "nuke", "zap", "clear", "retouch", "denoise", "soften",
    "imagine", "produce", "depict", "visualize", "visualise", "edit", "recolor", "recolour", "remake",
)
# Words that are verbs in a command but also open descriptions ("warm light", "cool tones", "painted sky"):
# a command only when what they act on follows.
_AMBIGUOUS_VERBS = ("warm", "cool", "tone", "double", "triple", "quadruple", "scale", "zoom", "mask", "set",
                    "drop", "save", "export", "design", "sketch", "paint", "render", "style", "cut", "crop",
                    "strip", "mirror", "blur", "lower", "light", "frame", "trim", "clean", "grayscale", "greyscale",
                    "monochrome", "sepia", "pixelate", "cartoonify", "toonify")
_OBJECT_FOLLOWS = (r"(?=\s+(?:it|its|this|that|these|those|them|him|her|the|a|an|my|our|your|me|us|everything|"
                   r"all|up|out|off|away|down|to|into|by|in|as|\d+\w*)\b|\s*$|\s*[,.!?])")


def _alternatives(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_COMMAND_START = re.compile(rf"^{_POLITE}(?:(?:{_alternatives(_VERBS)})\b|(?:take|get|pull|knock)\s+"
                            rf"(?:the|its|this|that|those|these|all the|every)\s+(?:[\w-]+\s+){{0,2}}?"
                            rf"(?:away|out|off|removed|gone)\b|"
                            rf"(?:{_alternatives(_AMBIGUOUS_VERBS)})"
                            rf"\b{_OBJECT_FOLLOWS}|(?<=by )\w+ing\b)", re.I)
# Phrases whose "and" is not a connector.
_PROTECTED = re.compile(r"\b(?:black\s*(?:and|&|n)\s*white|salt and pepper|rock and roll|pen and ink|"
                        r"(?:bigger|larger|sharper|clearer|crisper|brighter|darker|smaller) and (?:bigger|larger|sharper|"
                        r"clearer|crisper|brighter|darker|smaller|better|more \w+)|up and down|left and right|"
                        r"back and forth|width and height|height and width|this and that)\b", re.I)
# "…, lose it": a bare verb + pronoun after a description refers to what was just named, it is no new step.
_PRONOUN_ONLY = re.compile(r"^\S+(?:\s+(?:rid|out|away|off|of|up))*\s+(?:it|them|him|her|this|that|those|these)"
                           r"(?:\s+(?:please|pls|plz|too|as well))?[\s.!]*$", re.I)
# A new picture described without a verb ("a red barn at dusk, and upscale it 2x") may open a plan; a remark
# about the image ("it's only 800px wide, can you…", "there's a bin, lose it") does not.
_DESCRIPTION = re.compile(r"^(?:(?:a|an|some|one|two|three|four|\d+)\s+|(?:photo|picture|image|portrait|painting|"
                          r"illustration|drawing|render|sketch)s?\s+of\b)", re.I)

# A later clause that says it comes first ("…, but first crop it", "upscale it. Before that, flip it").
_FIRST = re.compile(r"^(?:but\s+)?(?:first(?:ly)?(?: of all)?|to (?:start|begin)(?: with)?|before (?:that|this|"
                    r"(?:you|u) do(?: that| it| so)?|doing that|anything else)|beforehand|"
                    r"primero|antes|d'abord|avant (?:ça|cela)|prima|zuerst|vorher|"
                    r"まず|先に|先)\b[\s,、，]*", re.I)

# The subordinate clause of an ordering frame: what to do, or what should be done ("you've removed the bg").
_DONE = (r"(?:(?:you(?:'ve| have|'re| are)?|u|we(?:'ve|'re)?|i(?:'ve|'m)?)\s+(?:done\s+|finished\s+|through\s+)?)?"
         r"(?:with\s+)?")
_SUBORDINATE = r"(?P<sub>[^,;]+?)"
_LEADING_BEFORE = re.compile(rf"^(?:but\s+)?(?:before|prior to)\s+{_DONE}{_SUBORDINATE}\s*[,;]\s*(?P<main>.+)$", re.I)
_LEADING_AFTER = re.compile(rf"^(?:after|once|when|as soon as|with)\s+{_DONE}{_SUBORDINATE}\s*[,;]\s*(?P<main>.+)$",
                            re.I)
_TRAILING_AFTER = re.compile(rf"^(?P<main>.+?)\s*[,;]?\s+(?:but\s+)?(?:only\s+)?(?:after|once|when)\s+{_DONE}"
                             rf"(?P<sub>.+)$", re.I)
_TRAILING_BEFORE = re.compile(rf"^(?P<main>.+?)\s*[,;]?\s+before\s+{_DONE}(?P<sub>.+)$", re.I)
# The same frames in the other languages ("antes de ampliarla, borra…", "nachdem du …, …", "…する前に、…").
_LEADING_BEFORE_OTHER = re.compile(
    r"^(?:antes de|avant d[e']|prima di|bevor(?: du)?|vor dem)\s*(?P<sub>[^,，、;]+?)\s*[,，、;]\s*(?P<main>.+)$"
    r"|^(?P<sub2>[^、，,]+?[るすくぐむぶつう])前に[、，,]?\s*(?P<main2>.+)$"
    r"|^在?(?P<sub3>[^，,]+?)之前[，,]?\s*先(?P<main3>.+)$",
    re.I)
_LEADING_AFTER_OTHER = re.compile(
    r"^(?:despu[eé]s de|depois de|apr[eè]s avoir|apr[eè]s|dopo aver(?:e)?|nachdem(?: du)?|una vez que|uma vez que)\s*"
    r"(?P<sub>[^,，、;]+?)\s*[,，、;]\s*(?P<main>.+)$", re.I)
# "do that once the logo is gone": a clause that only points back at the one before it.
_POINTER = re.compile(r"^(?:(?:and|but|please|pls|just)\s+)*(?:do|run|apply)\s+(?:that|it|this|so)(?:\s+(?:one|step))?"
                      r"\s*$", re.I)
# "the logo is erased", "the background is gone": a state that stands for the command that makes it so.
_STATE = re.compile(r"^(?P<thing>(?:the|its|it'?s|my|that|this|those|these)\b.*?)\s+"
                    r"(?:(?:is|are|has been|have been|'s|gets|get)\s+)?(?P<state>\w+)(?:\s+(?:out|off|away))?\s*$", re.I)
_STATE_VERBS = {"gone": "remove", "removed": "remove", "erased": "erase", "deleted": "delete", "out": "remove",
                "off": "remove", "cleaned": "clean up", "cropped": "crop", "upscaled": "upscale", "rotated": "rotate",
                "flipped": "flip", "sharpened": "sharpen", "blurred": "blur", "brightened": "brighten",
                "cut": "cut out", "fixed": "fix", "swapped": "swap", "enlarged": "enlarge", "resized": "resize"}
# "I'd like the background removed and the image turned black and white": the wishes in the imperative.
_WISH = re.compile(r"^(?:(?:please|so|ok|okay)[\s,]+)*(?:i'?d (?:like|love|want)|i would (?:like|love)|i want|i need|"
                   r"(?:can|could|may) i (?:get|have)|please (?:get|have))\s+(?=(?:the|its|my|this|that)\b)", re.I)
_WISHED = re.compile(r"(?:^|(?<=\band )|(?<=, ))(?P<thing>(?:the|its|my|this|that)\s+(?:[\w-]+\s+){0,2}?)"
                     r"(?P<verb>removed|erased|deleted|gone|turned|made|converted|upscaled|enlarged|cropped|rotated|"
                     r"flipped|sharpened|blurred|brightened|darkened|swapped|changed|cut out|taken out|restyled)\b", re.I)
_WISH_VERBS = {"turned": "turn", "made": "make", "converted": "convert", "cut out": "cut out", "taken out": "take out",
               "restyled": "restyle", "darkened": "darken"}
_IRREGULAR = {"got": "get", "gotten": "get", "getting": "get", "took": "take", "taken": "take", "taking": "take",
              "cutting": "cut", "putting": "put", "setting": "set", "made": "make", "making": "make", "gave": "give",
              "given": "give", "giving": "give", "drew": "draw", "drawn": "draw", "brought": "bring", "lost": "lose",
              "did": "do", "done": "do", "doing": "do", "ran": "run", "running": "run", "swapping": "swap",
              "swapped": "swap", "cropping": "crop", "cropped": "crop", "flipping": "flip", "flipped": "flip",
              "blurring": "blur", "blurred": "blur", "dropping": "drop", "dropped": "drop", "stripping": "strip",
              "stripped": "strip", "zapping": "zap", "zapped": "zap"}


def split_clauses(text: str) -> list[str]:
    """The message cut into the clauses that may be steps of their own (one clause = no split), in the order
    they should run ("upscale it, but first draw a tiger" puts the drawing first)."""
    return [_start_by(c) for c in _ordered(" ".join((text or "").split())) if c]


_START_BY = re.compile(r"^(?:(?:please|pls|and|then|first|firstly)[\s,]+)*(?:start|begin)(?:ning)? (?:off )?(?:by|with)\s+"
                       r"(?=\w+ing\b)", re.I)


def _start_by(clause: str) -> str:
    """"start by removing the fence" → "remove the fence"."""
    opening = _START_BY.match(clause)
    return _imperative(clause[opening.end():]) if opening else clause


def _wishes(text: str) -> str:
    """"I'd like the background removed and the photo turned grey" → "remove the background and turn the photo
    grey"."""
    wish = _WISH.match(text)
    if wish is None:
        return text

    def imperative(match: re.Match) -> str:
        verb = match.group("verb").lower()
        return f"{_WISH_VERBS.get(verb) or _STATE_VERBS.get(verb, verb)} {match.group('thing').strip()}"

    return _WISHED.sub(imperative, text[wish.end():])


def _ordered(text: str) -> list[str]:
    text = _wishes(text)
    framed = _frame(text, _LEADING_FRAMES)
    if framed is not None:
        return framed
    clauses: list[str] = []
    for clause in _split(text):
        inner = _frame(clause, _LEADING_FRAMES + _TRAILING_FRAMES)
        if inner is not None and clauses and _POINTER.match(inner[-1]):  # "…; do that once the logo is gone"
            clauses[-1:-1] = inner[:-1]
        else:
            clauses += inner if inner is not None else [clause]
    return _reorder(clauses)


# (pattern, whether the subordinate clause runs first, whether the pattern reads English)
_LEADING_FRAMES = ((_LEADING_BEFORE, False, True), (_LEADING_AFTER, True, True),
                   (_LEADING_BEFORE_OTHER, False, False), (_LEADING_AFTER_OTHER, True, False))
_TRAILING_FRAMES = ((_TRAILING_AFTER, True, True), (_TRAILING_BEFORE, False, True))
# An infinitive after "antes de", "avant de", "prima di", "después de"; a verb ending before 前に.
_OTHER_VERB = re.compile(r"^(?:l'|l’|la |le |les |lo |gli |me |te |se |s')?\w+(?:ar|er|ir|re|are|ere|ire)"
                         r"(?:la|lo|le|las|los|les|li|l[ao]s?|e|a|o)?\b|^(?:avoir|aver(?:e)?|du)\b|[るすくぐむぶつう]$"
                         r"|[\u4e00-\u9fff]", re.I)


def _frame(text: str, frames) -> list[str] | None:
    """The clauses of a message built on an ordering frame ("before you X, Y" → Y, X), or None."""
    for pattern, sub_first, english in frames:
        match = pattern.match(text)
        if match is None:
            continue
        groups = {k.rstrip("23"): v for k, v in match.groupdict().items() if v}
        sub, main = groups["sub"].strip(" ,."), groups["main"].strip(" ,.")
        if english:
            sub = _imperative(sub)
            if not (_COMMAND_START.search(sub) and (_COMMAND_START.search(main) or _POINTER.match(main))):
                continue  # "a street after the rain": a description, not two commands
        elif not _OTHER_VERB.search(sub):
            continue
        main_clauses = [main] if _POINTER.match(main) else _ordered(main)
        return _ordered(sub) + main_clauses if sub_first else main_clauses + _ordered(sub)
    return None


def _imperative(clause: str) -> str:
    """"removing the fence" → "remove the fence"; "the logo is erased" → "erase the logo"."""
    clause = clause.strip(" ,.")
    state = _STATE.match(clause)
    if state and state.group("state").lower() in _STATE_VERBS:
        return f"{_STATE_VERBS[state.group('state').lower()]} {state.group('thing')}"
    first, _, rest = clause.partition(" ")
    base = _base_form(first.lower())
    return f"{base} {rest}".strip() if base else clause


def _base_form(word: str) -> str | None:
    """The imperative of an inflected command verb ("upscaling" → "upscale"), or None when it is not one."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix in ("ing", "ed", "d"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[:-len(suffix)]
            for candidate in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else None):
                if candidate and _COMMAND_START.match(candidate) and " " not in candidate:
                    return candidate
    return None


_FIRST_AFTER = re.compile(r"^(?:but\s+)?(?P<rest>.+?)\s+first(?:\s+(?:please|pls|of all))?$", re.I)


def _reorder(clauses: list[str]) -> list[str]:
    """A later clause that says it comes first ("…, but first crop it", "…, but crop it first") moves to the front."""
    for index in range(1, len(clauses)):
        if _first_said(clauses[index]):
            if _FIRST.match(clauses[0]):
                break
            moved = clauses.pop(index)
            front = _FIRST.sub("", moved) if _FIRST.match(moved) else _FIRST_AFTER.match(moved).group("rest")
            clauses.insert(0, front or moved)
            break
    return clauses


def _protect(text: str) -> tuple[str, dict[str, str]]:
    """Replace the phrases whose 'and' is no connector by placeholders (restored after splitting)."""
    table: dict[str, str] = {}

    def hide(match: re.Match) -> str:
        key = f"\x00{len(table)}\x00"
        table[key] = match.group(0)
        return key

    return _PROTECTED.sub(hide, text), table


def _restore(text: str, table: dict[str, str]) -> str:
    for key, value in table.items():
        text = text.replace(key, value)
    return text


def _split(text: str) -> list[str]:
    hidden, table = _protect(text)
    items = _NUMBER_MARK.split(hidden) if _NUMBERED.match(hidden) else [hidden]
    strong = [p for item in items for p in (s.strip(" ,.") for s in _STRONG.split(item)) if p]
    clauses: list[str] = []
    for part in strong or [hidden.strip()]:
        start = 0  # where the clause being built begins in `part`
        for match in _WEAK.finditer(part):
            if _cut_here(part[start:match.start()], match.group(0), part[match.end():], start == 0, table):
                clauses.append(part[start:match.start()])
                start = match.end()
        clauses.append(part[start:])
    return [_restore(c, table).strip(" ,.;") for c in clauses if c.strip(" ,.;")]


def _cut_here(current: str, connector: str, piece: str, opening: bool, table: dict[str, str]) -> bool:
    """Is the weak connector between `current` and `piece` the start of a new step?"""
    after = _next_clause(piece)
    if _BARE_OPERATION.match(_restore(after, table)):  # "remove background + black and white"
        return bool(_COMMAND_START.search(current)) and _is_command(current)
    if _BUT.match(connector) and not _first_said(after):
        return False  # "paint a sunset but make the sky purple": a "but" only orders ("…, but crop it first")
    if not (_COMMAND_START.search(piece) and _is_command(current)):
        return False
    return bool(_COMMAND_START.search(current)) or (opening and bool(_DESCRIPTION.search(current))
                                                    and not _PRONOUN_ONLY.search(after))


def request_part(text: str) -> str | None:
    """In "the image is blurry, can you make it sharper?" the words after the remark that ask for something
    ("can you make it sharper?"); None when the message does not open with a remark."""
    pieces = _WEAK.split(" ".join((text or "").split()))
    if len(pieces) < 2 or _COMMAND_START.search(pieces[0]):
        return None
    for index in range(1, len(pieces)):
        if _COMMAND_START.search(pieces[index]):
            return ", ".join(pieces[index:])
    return None


_BUT = re.compile(r"^[\s,]*but\b", re.I)


def _first_said(clause: str) -> bool:
    ahead = _FIRST_AFTER.match(clause)
    return bool(_FIRST.match(clause) or (ahead and _COMMAND_START.search(ahead.group("rest"))))


def _next_clause(text: str) -> str:
    """The words up to the next weak connector (what `_PRONOUN_ONLY` looks at)."""
    return _WEAK.split(text, maxsplit=1)[0]


def _is_command(words: str) -> bool:
    """A clause that can stand alone as a step: more than a bare verb ("sharpen" in "sharpen and upscale this")."""
    tokens = re.findall(r"[\w'-]+", words)
    if len(tokens) >= 2:
        return True
    return bool(tokens) and not _COMMAND_START.fullmatch(tokens[0])
