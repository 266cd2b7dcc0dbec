"""The typed API boundary: every value a caller sends is checked here, before anything is stored.

One schema for the chat inputs — the message, the session id, and the caller's `context` (`force_intent`,
`params` with each parameter's type and range, `image_ids`, `consent`, `correction_of`, `corrected_from`) —
and one for the ids the other endpoints take. Values first pass a plain-JSON walk (no NaN or Infinity, no
lone surrogates, no non-JSON types, bounded depth and sizes), then pydantic models in strict mode (a string
is never silently turned into a number, a bool never counts as an integer, unknown keys are refused). What
fails is an `InvalidInput` whose `details["field"]` names the offending field as a dotted path
(`context.params.factor`), so a script knows what to fix. A parameter a capability starts to accept is one
line in `Params` (and `EditStep` for image edits).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInput
from core.vocabulary import INTENTS

MAX_DEPTH = 8  # context → params → operations → step → box …
MAX_ITEMS = 64  # items of any list or keys of any object
MAX_STRING = 4000  # characters of any string inside the context
MAX_ID = 10**15  # message ids (SQLite rowids stay far below)

SESSION_ID = re.compile(r"[0-9a-f]{32}")
IMAGE_ID = re.compile(r"[0-9a-f]{64}")
EDIT_OPERATIONS = ("rotate", "flip", "crop", "resize", "brightness", "contrast", "saturation", "grayscale", "sepia",
                   "blur", "sharpen")
GENERATION_MODES = ("generate", "regenerate", "regenerate_exact", "variation", "safety_feedback")


def _int(low: int, high: int):
    return Annotated[int, Field(strict=True, ge=low, le=high)]


def _num(low: float, high: float):
    return Annotated[float, Field(strict=True, ge=low, le=high, allow_inf_nan=False)]


def _text(max_chars: int):
    return Annotated[str, Field(strict=True, max_length=max_chars)]


Side = _int(1, 65536)
Coordinate = _num(-1e6, 1e6)
Intent = Literal[INTENTS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class EditArgs(_Strict):
    """Arguments of one basic edit (models.image_edit.steps reads them)."""

    angle: Optional[_num(-36000, 36000)] = None
    direction: Optional[_text(40)] = None
    expand: Optional[bool] = None
    fill: Optional[_text(40)] = None
    axis: Optional[Literal["horizontal", "vertical"]] = None
    box: Optional[Annotated[list[Coordinate], Field(min_length=4, max_length=4)]] = None
    margins: Optional[dict[Literal["left", "top", "right", "bottom"], _num(0, 100)]] = None
    aspect: Optional[_text(40)] = None
    size: Optional[Annotated[list[Side], Field(min_length=2, max_length=2)]] = None
    width: Optional[Side] = None
    height: Optional[Side] = None
    scale: Optional[Annotated[float, Field(strict=True, gt=0, le=64, allow_inf_nan=False)]] = None
    long_side: Optional[Side] = None
    factor: Optional[_num(0, 100)] = None
    radius: Optional[_num(0, 1000)] = None
    strength: Optional[Union[_num(0, 100), Literal["light", "medium", "strong"]]] = None
    region: Optional[_text(200)] = None


class EditStep(EditArgs):
    operation: Literal[EDIT_OPERATIONS]  # type: ignore[valid-type]


class Params(EditArgs):
    """Every parameter a caller may set, with its type and range; capabilities clamp further and say so."""

    operation: Optional[Literal[EDIT_OPERATIONS]] = None  # type: ignore[valid-type]
    operations: Optional[Annotated[list[EditStep], Field(min_length=1, max_length=16)]] = None
    # generation
    prompt: Optional[_text(MAX_STRING)] = None
    negative: Optional[Union[_text(2000), Annotated[list[_text(200)], Field(max_length=MAX_ITEMS)]]] = None
    count: Optional[_int(1, 100)] = None
    steps: Optional[_int(1, 1000)] = None
    seed: Optional[_int(0, 2**63 - 1)] = None
    guidance: Optional[_num(0, 100)] = None
    scheduler: Optional[_text(40)] = None
    mode: Optional[Literal[GENERATION_MODES]] = None  # type: ignore[valid-type]
    source_recipe: Optional[dict[str, Any]] = None  # plain JSON, already walked by _check_json
    extra_prompt: Optional[_text(2000)] = None
    # object removal, background removal, style transfer, upscale, face swap
    target: Optional[_text(200)] = None
    position: Optional[_text(40)] = None
    background: Optional[_text(40)] = None
    mask_output: Optional[Literal["also", "only"]] = None
    subject: Optional[Literal["person", "object"]] = None
    style: Optional[_text(200)] = None
    style_key: Optional[_text(80)] = None
    preserve_color: Optional[bool] = None
    style_image: Optional[_int(0, 16)] = None
    variant: Optional[_text(40)] = None
    face_target: Optional[Literal["all", "left", "right", "middle", "largest"]] = None
    face_index: Optional[_int(1, 100)] = None
    face_gender: Optional[Literal["male", "female"]] = None
    source_image: Optional[Literal["first", "second", "latest"]] = None
    target_image: Optional[Literal["first", "second", "latest"]] = None


class ChatContext(_Strict):
    """The part of a chat message's context that callers (scripts, chips) may set."""

    force_intent: Optional[Intent] = None
    params: Optional[Params] = None
    image_ids: Optional[Annotated[list[Annotated[str, Field(strict=True, pattern=IMAGE_ID.pattern)]],
                                  Field(max_length=16)]] = None
    consent: Optional[bool] = None
    correction_of: Optional[_int(1, MAX_ID)] = None
    corrected_from: Optional[Union[Intent, Literal[""]]] = None


CONTEXT_KEYS = frozenset(ChatContext.model_fields)


def check_context(raw, field: str = "context") -> dict:
    """The caller's context, validated: a dict holding only the keys that were set (None when absent)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _invalid(field, f"must be a JSON object, not {_type_name(raw)}")
    _check_json(raw, field, 0)
    try:
        parsed = ChatContext.model_validate(raw)
    except ValidationError as exc:
        raise _from_validation(exc, field) from None
    # Strict mode converts nothing (but ints to floats), so the caller's own values are what was validated.
    return {key: raw[key] for key in parsed.model_fields_set if raw[key] is not None}


def check_message(message, max_chars: int) -> str:
    if message is None:
        return ""
    if not isinstance(message, str):
        raise _invalid("message", f"must be text, not {_type_name(message)}")
    if len(message) > max_chars:
        raise InvalidInput(f"Your message is {len(message):,} characters long; the limit is {max_chars:,}.",
                           suggestions=["Shorten the message and send it again."], details={"field": "message"})
    _check_string(message, "message")
    return message


def check_id_text(value, field: str, max_chars: int = 256) -> str:
    """A session or image id as sent: text without surrogates (its format is the store's business: a
    malformed id is simply not found)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(field, f"must be text, not {_type_name(value)}")
    if len(value) > max_chars:
        raise _invalid(field, f"is longer than {max_chars} characters")
    _check_string(value, field)
    return value.strip()


def is_session_id(value: str) -> bool:
    return SESSION_ID.fullmatch(value) is not None


# ---- the plain-JSON walk -------------------------------------------------------------------------------------
def _check_json(value, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _invalid(path, f"is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > 2**63 - 1:
            raise _invalid(path, "is a number too large to store")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(path, "must be a finite number (not NaN or Infinity)")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise _invalid(path, f"is longer than {MAX_STRING} characters")
        _check_string(value, path)
        return
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            raise _invalid(path, f"has more than {MAX_ITEMS} items")
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise _invalid(path, f"has more than {MAX_ITEMS} keys")
        for key, item in value.items():
            if not isinstance(key, str):
                raise _invalid(path, "has a key that is not text")
            _check_string(key, f"{path} key")
            _check_json(item, f"{path}.{key}", depth + 1)
        return
    raise _invalid(path, f"is a {_type_name(value)}, which JSON cannot hold")


def _check_string(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(path, "contains an invalid character (a lone UTF-16 surrogate)") from None


# ---- errors --------------------------------------------------------------------------------------------------
def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"`{field}` {problem}.", details={"field": field},
                        suggestions=["Fix that field and send the request again."])


def _from_validation(exc: ValidationError, prefix: str) -> InvalidInput:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    field = _field_path(prefix, first["loc"])
    if first["type"] == "extra_forbidden":
        return _invalid(field, "is not a field this API knows")
    # A union (a number or a word) fails once per branch: say every alternative.
    problems = [_plain_message(e) for e in errors if _field_path(prefix, e["loc"]) == field]
    return _invalid(field, " or ".join(dict.fromkeys(problems)))


_UNION_TAG = re.compile(r"^(?:constrained-|literal\[|list\[|dict\[|function-|\[key\]$)")


def _field_path(prefix: str, loc) -> str:
    field = prefix
    for index, part in enumerate(loc):
        if isinstance(part, int):
            field += f"[{part}]"
        elif index > 0 and _UNION_TAG.match(str(part)):
            continue  # pydantic's name for one branch of a union (or "[key]"), not a key of the input
        else:
            field += f".{part}"
    return field


def _plain_message(error: dict) -> str:
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    message = re.sub(r" or instance of \w+", "", message)  # pydantic's class names mean nothing to a caller
    return message.replace("input should be", "should be")


def _type_name(value) -> str:
    return {dict: "an object", list: "a list", tuple: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
