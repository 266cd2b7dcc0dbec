"""The Gradio Blocks page: its panels (ui/panels.py), their events (ui/events.py) and the named API (ui/api.py).

Page: a sidebar (Sign in with Hugging Face on a Space, New chat, the chats, delete with a confirmation, what this
server can do), the chat (images inline, a "what ran" card per reply, chips under the last reply), the brush right
above the input when there is something to paint on, the input with a Stop button while a request runs, and the
chat's images folded below. Everything is drawn from `LiveChat`, so a reload or another tab shows the same chat.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from core import platform
from pipeline.boundary.identity import browser_state_key
from ui.api import api_endpoints
from ui.browser_inputs import guard_image_editor
from ui.events import PageEvents, wire
from ui.handlers import Handlers
from ui.live import LiveChat
from ui.panels import build_chat, build_sidebar

ROOT = Path(__file__).resolve().parent.parent
CHAT_QUEUE = "chat"


def hf_login_enabled(settings, environ=None) -> bool:
    """Sign in with Hugging Face: on a Space with `hf_oauth: true` (which sets OAUTH_CLIENT_ID), unless off.
    `on` forces it elsewhere too, where Gradio signs in with the machine's own Hugging Face login (local testing;
    the app does not start without one)."""
    mode = (getattr(settings, "hf_login", "auto") or "auto").lower()
    if mode == "on":
        return True
    return mode == "auto" and platform.space_oauth(environ)


def build_ui(handlers: Handlers, settings) -> gr.Blocks:
    guard_image_editor(gr.ImageEditor)  # the brush: layers decoded by our guarded decoder, bounded blob store
    live = LiveChat(handlers, upload_folder=get_upload_folder())
    examples = load_examples()
    events = PageEvents(live, examples, dict(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels))
    # Gradio keeps a copy of every file it served; drop copies older than a day (the store keeps the originals).
    with gr.Blocks(title="AI image gateway", delete_cache=(3600, 86400)) as demo:
        # Gradio sends BrowserState's key to every page: a one-way derived key, never the owner secret.
        state = gr.BrowserState({"token": "", "session_id": ""}, storage_key="gateway",
                                secret=browser_state_key(settings.owner_secret))
        ticket = gr.State("")
        sidebar = build_sidebar(handlers.api_capabilities(), hf_login_enabled(settings))
        chat = build_chat(examples)
        wire(demo, events, state, ticket, sidebar, chat)
        # Model runs are gated inside the executor; the scripts' /chat shares one queue of this size.
        api_endpoints(handlers, settings.request_concurrency, CHAT_QUEUE)
    return demo


def load_examples() -> list[dict]:
    """The empty chat's example requests (examples/chats.json; the tests run the same file)."""
    data = json.loads((ROOT / "examples" / "chats.json").read_text())
    return [{"text": e["text"], "files": [str(ROOT / f) for f in e.get("files", [])]} for e in data["start"]]
