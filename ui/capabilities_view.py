"""The sidebar's "What this server can do": the `/capabilities` listing as a short readable list (no gradio).

One line per capability a person can read in a narrow column — a mark, its name, the backend that will run it
— with the details (every backend, its status, licence, and for what cannot run, why and the exact fix) folded
under it. Whatever else `/capabilities` returns (the router, the runtime…) is shown generically, folded, so a
new block appears without a change here; a block's `warnings` stay visible.
"""

from __future__ import annotations

import html

from core.vocabulary import CAPABILITY_NOUNS

STATUS_WORDS = {"ready": "ready", "downloadable": "weights not downloaded", "missing": "not installed"}


def render_capabilities(listing: dict) -> str:
    parts = []
    for cap in listing.get("capabilities") or []:
        parts.append(_capability(cap))
    for key, value in listing.items():
        if key != "capabilities" and value not in (None, {}, []):
            parts.append(_generic(key, value))
    return "\n\n".join(parts)


def _capability(cap: dict) -> str:
    name = CAPABILITY_NOUNS.get(cap["name"], cap["name"].replace("_", " ").capitalize())
    ready = [b for b in cap.get("backends") or [] if b.get("status") == "ready"]
    mark = "✅" if cap.get("available") else "⛔"
    headline = f"by {html.escape(ready[0]['name'])}" if ready else "not set up here"
    details = []
    for b in cap.get("backends") or []:
        line = f"<li><b>{html.escape(b['name'])}</b>: {STATUS_WORDS.get(b['status'], html.escape(b['status']))}"
        if b.get("status") != "ready" and b.get("reason"):
            line += f" — {html.escape(b['reason'])}"
        if b.get("status") != "ready" and b.get("fix"):
            line += f"<br>Fix: <code>{html.escape(b['fix'].replace('`', ''))}</code>"
        if b.get("licence"):
            line += f"<br><small>Licence: {html.escape(b['licence'])}</small>"
        details.append(line + "</li>")
    if not cap.get("backends"):
        details.append(f"<li>{html.escape(cap.get('note') or 'not available yet')}</li>")
    return (f"<details class='gw-cap'><summary>{mark} <b>{html.escape(name)}</b> <small>{headline}</small></summary>"
            f"<ul>{''.join(details)}</ul></details>")


def _generic(key: str, value) -> str:
    title = key.replace("_", " ").capitalize()
    warnings = value.get("warnings") if isinstance(value, dict) else None
    shown = "".join(f"<p>⚠️ {html.escape(str(w))}</p>" for w in warnings or [])  # never folded away
    if isinstance(value, dict):
        items = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(_short(v))}</li>" for k, v in value.items()
                        if v not in (None, "", [], {}))
        body = f"<ul>{items}</ul>"
    elif isinstance(value, list):
        body = "<ul>" + "".join(f"<li>{html.escape(_short(v))}</li>" for v in value) + "</ul>"
    else:
        body = f"<p>{html.escape(_short(value))}</p>"
    return f"{shown}<details class='gw-cap'><summary>⚙️ <b>{html.escape(title)}</b></summary>{body}</details>"


def _short(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(v) for v in value)
    return str(value)
