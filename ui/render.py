"""Pure rendering of stored messages, replies and runs in flight into Gradio chat messages (no gradio import).

Each assistant reply becomes up to three chat messages, shown as one group: a collapsible "what ran" card
(intent, confidence, backend, model, executor, cache, the steps of a plan, timings), for an unavailable
capability a collapsible "for the operator" part with the exact fix, and the reply itself (text + images
inline) carrying the chips as `options`. The chips are the pipeline's `metadata["chips"]` (see
pipeline/run/suggest.py); the browser gets only an opaque id per chip (`chip_id(slot)`, see ui/chips.py) and the
server reads the chip's message and context from its own copy when it is clicked. A run in flight renders as the
user's message (with thumbnails) and a reply bubble with its stage and a progress bar, or "waiting for your
previous request", or "Stopped". Every text that reaches the chat is made inert first (`inert`): no HTML, no
markdown image or link, so a message can never make the browser load anything from elsewhere.
"""

from __future__ import annotations

import html
import re

from core.vocabulary import HUMAN_NAMES, unavailable_sentence
from pipeline.run.suggest import MAX_CHIPS, is_advice, is_operator_fix

STEP_MARKS = {"done": "✓", "failed": "✗", "skipped": "–", "running": "…", "pending": "○"}


# ---- inert text -------------------------------------------------------------------------------------------------
# A code span as CommonMark sees it: a maximal run of backticks closed by a run of exactly the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_MARKUP = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]", "<": "&lt;", ">": "&gt;", "!": "\\!"})


def inert(text: str, code: bool = True) -> str:
    """Markdown that shows what was written and loads nothing: HTML tags, markdown images and links (inline,
    reference or automatic) become plain text. With `code`, code spans (which render literally anyway) are
    kept, so the server's own `commands` still look like code; without it, backticks are plain too."""
    if not code:
        return _escape(text.replace("`", "\x00")).replace("\x00", "\\`")
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_escape(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    text = text.translate(_MARKUP)
    text = text.replace("://", "\\://")  # no automatic links (http://…)
    return re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:3] + "\\.", text)  # nor www.…


# ---- chips -------------------------------------------------------------------------------------------------------
def options_for(metadata: dict) -> list[dict]:
    """The reply's chips ({label, message, context}) in the pipeline's order; older stored replies (before
    `chips`) keep their own order."""
    if "chips" in metadata:
        return [_action_chip(c) for c in metadata["chips"]][:MAX_CHIPS]
    actions = metadata.get("actions") or []
    reroutes = [a for a in actions if str(a.get("id", "")).startswith("reroute:")]
    options = [_action_chip(a) for a in actions if a not in reroutes]
    options += [{"label": s, "message": s, "context": {}} for s in metadata.get("suggestions") or []
                if not is_operator_fix(s) and not is_advice(s)]
    return (options + [_action_chip(a) for a in reroutes])[:MAX_CHIPS]


def _action_chip(action: dict) -> dict:
    return {"label": str(action.get("label", "")), "message": str(action.get("message", "") or ""),
            "context": dict(action.get("context") or {})}


def chip_options(metadata: dict, chip_id, extra: list[dict] | None = None) -> list[dict]:
    """The options of a reply as the browser gets them: a label and an opaque id per chip. `extra` are UI chips
    ({label, slot}) that replace the last ones when there is no room."""
    options = [{"label": inert(c["label"], code=False), "value": chip_id(i)} for i, c in enumerate(options_for(metadata))]
    extra = [{"label": c["label"], "value": chip_id(c["slot"])} for c in extra or []]
    return options[: MAX_CHIPS - len(extra)] + extra if extra else options


# ---- the "what ran" card ---------------------------------------------------------------------------------------
def what_ran(metadata: dict) -> str | None:
    intent = metadata.get("intent")
    if not intent:
        return None
    parts = [f"{HUMAN_NAMES.get(intent, intent)} ({intent}, confidence {metadata.get('confidence', 0):.2f})"]
    if metadata.get("backend"):
        parts.append(f"backend {metadata['backend']}" + (f" · {metadata['model_id']}" if metadata.get("model_id") else ""))
    executor = metadata.get("executor")
    if executor and executor != "local":
        parts.append(f"on {executor}")
    if metadata.get("cache_hit"):
        parts.append("from the result cache")
    plan = metadata.get("plan") or []
    if plan:
        done = sum(1 for step in plan if step.get("status") == "done")
        parts.append(f"{done} of {len(plan)} steps")
    total = (metadata.get("timings_ms") or {}).get("total_ms")
    if total is not None:
        parts.append(f"{total / 1000:.2f} s")
    return "What ran: " + " · ".join(parts)


def what_ran_details(metadata: dict) -> str:
    lines = []
    plan = metadata.get("plan") or []
    if plan:
        lines.append("Steps:")
        for i, step in enumerate(plan, 1):
            status = str(step.get("status", "pending"))
            label = step.get("label") or HUMAN_NAMES.get(step.get("intent", ""), step.get("intent", ""))
            line = f"{i}. {STEP_MARKS.get(status, '·')} {label} — {status}"
            if step.get("message"):
                line += f": {step['message']}"
            lines.append(line)
    candidates = metadata.get("candidates") or []
    if candidates:
        lines.append("Intent candidates: " + ", ".join(f"{n} {p:.2f}" for n, p in candidates))
    for key in ("router", "capability", "backend", "model_id", "executor", "seed", "licence"):
        if metadata.get(key) not in (None, ""):
            lines.append(f"{key}: {metadata[key]}")
    if "cache_hit" in metadata:
        lines.append("result cache: " + ("hit (an identical earlier result was reused)" if metadata["cache_hit"]
                                         else "miss (computed now)"))
    timings = metadata.get("timings_ms") or {}
    if timings:
        lines.append("timings (ms): " + ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in timings.items()))
    return "\n".join(lines) or "—"


# ---- unavailability: one sentence for the creator, the fix for the operator ------------------------------------
def creator_text(text: str, metadata: dict) -> str:
    """The reply as a creator reads it: an unavailable capability is one plain sentence, tips follow."""
    error = metadata.get("error") or {}
    if error.get("code") == "capability_unavailable" and not error.get("operator"):
        capability = error.get("capability") or metadata.get("intent")  # raised by a backend with an operator message
        text = unavailable_sentence(capability) if capability else "That isn't set up on this server yet."
    tips = [t for t in metadata.get("tips") or [] if not is_operator_fix(t)]
    if tips:
        text = (text + "\n\n" if text else "") + "\n".join(f"*Tip: {t}*" for t in tips)
    return text


def operator_part(metadata: dict) -> str | None:
    error = metadata.get("error") or {}
    if error.get("code") != "capability_unavailable":
        return None
    detail = error.get("operator") or error.get("message") or ""
    fixes = list(dict.fromkeys(list(error.get("fixes") or []) +
                               [s for s in error.get("suggestions") or [] if is_operator_fix(s)]))
    lines = [f"Why: {detail}" if detail else ""]
    if fixes:
        # A fix that already marks its commands as code keeps them; a bare command becomes one code span.
        lines.append("Fix:\n" + "\n".join(f"- {f}" if "`" in f else f"- `{f}`" for f in fixes))
    lines.append("The server log has the same detail. The capabilities panel in the sidebar lists every backend.")
    return "\n\n".join(line for line in lines if line)


# ---- messages --------------------------------------------------------------------------------------------------
def user_message(text: str, image_paths: list[str]) -> dict:
    content = [{"path": p} for p in image_paths]
    if text:
        content = [inert(text, code=False)] + content
    return {"role": "user", "content": content if len(content) != 1 else content[0]}


def assistant_messages(text: str, image_paths: list[str], metadata: dict, chip_id=None,
                       extra_options: list[dict] | None = None) -> list[dict]:
    """The reply's chat messages; with `chip_id(slot)` (an opaque id per chip) the reply carries its chips."""
    messages = []
    title = what_ran(metadata)
    if title:
        messages.append({"role": "assistant", "content": inert(what_ran_details(metadata)),
                         "metadata": {"title": inert(title, code=False), "status": "done"}})
    operator = operator_part(metadata)
    if operator:
        messages.append({"role": "assistant", "content": inert(operator),
                         "metadata": {"title": "For the operator: why, and how to enable it", "status": "done"}})
    text = inert(creator_text(text, metadata))
    content = ([text] if text else []) + [{"path": p} for p in image_paths]
    reply = {"role": "assistant", "content": content if len(content) != 1 else content[0]}
    if not content:
        reply["content"] = "…"
    if chip_id is not None:
        options = chip_options(metadata, chip_id, extra_options)
        if options:
            reply["options"] = options
    messages.append(reply)
    return messages


def render_history(rows, path_of=lambda image: str(image.path), extra_options=None,
                   drop_trailing_user: bool = False, chip_id=None) -> list[dict]:
    """Chat messages for stored `MessageRow`s (oldest first); chips only on the last reply, with the ids
    `chip_id(row, slot)` gives. `extra_options(row)` may add UI chips ({label, slot}) to the last reply;
    `drop_trailing_user` leaves out a last user message with no reply yet (a run in flight shows it itself)."""
    rows = list(rows)
    if drop_trailing_user and rows and rows[-1].role == "user":
        rows = rows[:-1]
    last_assistant = max((i for i, r in enumerate(rows) if r.role == "assistant"), default=-1)
    chat = []
    for i, row in enumerate(rows):
        paths = [path_of(img) for img in row.images]
        if row.role == "user":
            chat.append(user_message(row.content, paths))
        else:
            last = i == last_assistant and i == len(rows) - 1
            extra = extra_options(row) if (last and extra_options) else None
            ids = (lambda slot, row=row: chip_id(row, slot)) if (last and chip_id is not None) else None
            chat.extend(assistant_messages(row.content, paths, row.metadata, chip_id=ids, extra_options=extra))
    return chat


def response_metadata(response) -> dict:
    """What a fresh `Response` that was not stored (an input error) renders from, chips included."""
    return {**response.metadata, "actions": response.actions, "suggestions": response.suggestions,
            "error": response.error}


def render_response(response, path_of=lambda image: image.path, chip_id=None) -> list[dict]:
    """Chat messages for a fresh `Response` that was not stored (an input error)."""
    return assistant_messages(response.message, [path_of(i) for i in response.images], response_metadata(response),
                              chip_id=chip_id)


# ---- a run in flight -------------------------------------------------------------------------------------------
def run_messages(run) -> list[dict]:
    """The user's message as sent and the reply bubble of a run that has not been stored yet."""
    messages = [user_message(run.text, list(run.echo_images))] if (run.text or run.echo_images) else []
    return messages + [{"role": "assistant", "content": progress_html(run)}]


def progress_html(run) -> str:
    if run.state == "waiting":
        return ('<div class="gw-progress gw-waiting"><span class="gw-stage">Waiting for your previous request '
                'to finish…</span></div>')
    if run.state in ("stopping", "stopped"):
        return '<div class="gw-progress gw-stopped"><span class="gw-stage">Stopped.</span></div>'
    # No ticking clock here: every change re-sends the whole chat, so the bubble changes only when the run
    # reports a new stage or fraction (the bar animates by itself until then).
    stage = html.escape(run.stage or "Working…")
    if run.fraction is not None and run.fraction > 0:
        bar = f'<progress value="{run.fraction:.2f}" max="1" aria-label="progress"></progress>'
        percent = f'<span class="gw-percent">{run.fraction * 100:.0f}%</span>'
    else:
        bar, percent = '<progress aria-label="progress"></progress>', ""  # indeterminate until a step reports
    return f'<div class="gw-progress"><span class="gw-stage">{stage}</span>{bar}{percent}</div>'

