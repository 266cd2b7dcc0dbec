"""Pure rendering of stored messages and responses into Gradio chat messages (no gradio import).

Each assistant reply becomes two chat messages: a collapsible "what ran" block (intent, confidence,
backend, model, seed, timings) and the reply itself (text + images inline) carrying the chips — actions,
"not what I meant" overrides and suggestions — as `options`. A chip's value is JSON `{message, context}`,
so clicking it sends a real chat message that needs no classifier guess.
"""

from __future__ import annotations

import json

from core.vocabulary import HUMAN_NAMES

MAX_CHIPS = 8


def chip_value(message: str, context: dict | None = None) -> str:
    return json.dumps({"message": message, "context": context or {}}, ensure_ascii=False)


def parse_chip(value) -> tuple[str, dict]:
    if isinstance(value, dict):
        value = value.get("value", value)
    try:
        data = json.loads(value)
        if isinstance(data, dict) and "message" in data:
            return str(data.get("message") or ""), dict(data.get("context") or {})
    except (TypeError, ValueError):
        pass
    return str(value), {}


def options_for(metadata: dict) -> list[dict]:
    """Chips in order: the capability's own actions, follow-up suggestions, then "not what I meant"."""
    actions = metadata.get("actions") or []
    reroutes = [a for a in actions if str(a.get("id", "")).startswith("reroute:")]
    options = [_action_chip(a) for a in actions if a not in reroutes]
    options += [{"label": s, "value": chip_value(s)} for s in metadata.get("suggestions") or []]
    options = options[: MAX_CHIPS - len(reroutes)] + [_action_chip(a) for a in reroutes]
    return options


def _action_chip(action: dict) -> dict:
    return {"label": action["label"], "value": chip_value(action.get("message", ""), action.get("context"))}


def what_ran(metadata: dict) -> str | None:
    intent = metadata.get("intent")
    if not intent:
        return None
    parts = [f"{HUMAN_NAMES.get(intent, intent)} ({intent}, confidence {metadata.get('confidence', 0):.2f})"]
    if metadata.get("backend"):
        parts.append(f"backend {metadata['backend']}" + (f" · {metadata['model_id']}" if metadata.get("model_id") else ""))
    total = (metadata.get("timings_ms") or {}).get("total_ms")
    if total is not None:
        parts.append(f"{total / 1000:.2f} s")
    return "What ran: " + " · ".join(parts)


def what_ran_details(metadata: dict) -> str:
    lines = []
    candidates = metadata.get("candidates") or []
    if candidates:
        lines.append("Intent candidates: " + ", ".join(f"{n} {p:.2f}" for n, p in candidates))
    for key in ("router", "capability", "backend", "model_id", "seed", "licence"):
        if metadata.get(key) not in (None, ""):
            lines.append(f"{key}: {metadata[key]}")
    timings = metadata.get("timings_ms") or {}
    if timings:
        lines.append("timings (ms): " + ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in timings.items()))
    return "\n".join(lines) or "—"


def user_message(text: str, image_paths: list[str]) -> dict:
    content = [{"path": p} for p in image_paths]
    if text:
        content = [text] + content
    return {"role": "user", "content": content if len(content) != 1 else content[0]}


def assistant_messages(text: str, image_paths: list[str], metadata: dict, with_options: bool) -> list[dict]:
    messages = []
    title = what_ran(metadata)
    if title:
        messages.append({"role": "assistant", "content": what_ran_details(metadata),
                         "metadata": {"title": title, "status": "done"}})
    content = ([text] if text else []) + [{"path": p} for p in image_paths]
    reply = {"role": "assistant", "content": content if len(content) != 1 else content[0]}
    if not content:
        reply["content"] = "…"
    if with_options:
        options = options_for(metadata)
        if options:
            reply["options"] = options
    messages.append(reply)
    return messages


def render_history(rows, path_of=lambda image: str(image.path)) -> list[dict]:
    """Chat messages for stored `MessageRow`s (oldest first); chips only on the last reply."""
    last_assistant = max((i for i, r in enumerate(rows) if r.role == "assistant"), default=-1)
    chat = []
    for i, row in enumerate(rows):
        paths = [path_of(img) for img in row.images]
        if row.role == "user":
            chat.append(user_message(row.content, paths))
        else:
            chat.extend(assistant_messages(row.content, paths, row.metadata, with_options=i == last_assistant))
    return chat


def render_response(response, path_of=lambda image: image.path) -> list[dict]:
    """Chat messages for a fresh `Response` that was not stored (an input error)."""
    meta = {**response.metadata, "actions": response.actions, "suggestions": response.suggestions}
    return assistant_messages(response.message, [path_of(i) for i in response.images], meta, with_options=True)
