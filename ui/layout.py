"""The Gradio Blocks page and the named API endpoints.

Page: a sessions sidebar (new / switch / delete) with the capabilities panel, the chat (images inline, a
"what ran" block per reply, chips under the last reply), a multimodal input (text + several images), a brush
to paint what to erase, and the session's gallery. API: `/chat`, `/list_sessions`, `/get_session`,
`/delete_session`, `/get_image`, `/capabilities`, wired to hidden components so files travel as real files
through gradio_client. Every chat event shares one `concurrency_id` with `GATEWAY_REQUEST_CONCURRENCY`; runs
that need a model wait for a model slot inside the executor, so cheap replies never queue behind them. The UI's
own events are hidden from the API docs.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from pipeline.identity import browser_state_key
from ui.api_inputs import api_files
from ui.handlers import Handlers

ROOT = Path(__file__).resolve().parent.parent

CSS = """
#chat { min-height: 520px; }
#sessions .wrap { flex-direction: column; }
footer { display: none !important; }
"""
CHAT_QUEUE = "chat"


def build_ui(handlers: Handlers, settings) -> gr.Blocks:
    limit = settings.request_concurrency  # model runs are gated inside the executor, not here
    # Gradio keeps a copy of every file it served; drop copies older than a day (the store keeps the originals).
    with gr.Blocks(title="AI image gateway", delete_cache=(3600, 86400)) as demo:
        # Gradio sends BrowserState's key to every page: a one-way derived key, never the owner secret.
        state = gr.BrowserState({"token": "", "session_id": ""}, storage_key="gateway",
                                secret=browser_state_key(settings.owner_secret))
        with gr.Sidebar(label="Sessions", open=True):
            new_btn = gr.Button("New chat", elem_id="new-chat", variant="primary")
            sessions = gr.Radio(label="Your sessions", choices=[], elem_id="sessions", interactive=True)
            delete_btn = gr.Button("Delete this chat", elem_id="delete-chat", variant="stop", size="sm")
            with gr.Accordion("Capabilities", open=False):
                capabilities_md = gr.Markdown(_capabilities_markdown(handlers.api_capabilities()), elem_id="capabilities")
        gr.Markdown("## AI image gateway\nAsk for an image, or attach one and say what to do with it.")
        chatbot = gr.Chatbot(elem_id="chat", height=560, allow_file_downloads=True, examples=load_examples(),
                             placeholder="Try “create a fantasy dragon”, or attach a photo and say “remove the background”.")
        box = gr.MultimodalTextbox(elem_id="msg", file_types=["image"], file_count="multiple",
                                   placeholder="Type a request, attach images…", show_label=False, autofocus=True)
        with gr.Accordion("Paint what to erase (brush)", open=False, visible=True, elem_id="brush-panel") as brush_panel:
            brush = gr.ImageEditor(elem_id="brush", type="pil", layers=False, label="Paint over the object, then send “erase it”",
                                   brush=gr.Brush(colors=["#ff0040"], color_mode="fixed", default_size=40),
                                   sources=(), transforms=())
        gallery = gr.Gallery(label="This session's images", elem_id="gallery", columns=8, height=180, object_fit="contain",
                             buttons=["download", "fullscreen"])

        # ---- browser events -------------------------------------------------------------------------------
        def on_submit(value, st, brush_value, request: gr.Request, progress=gr.Progress()):
            value = value or {}
            mask = _mask_from_editor(brush_value)
            st, history, images, sess, response = handlers.chat(
                value.get("text", ""), value.get("files", []), st, mask=mask, request=request,
                progress=lambda f, d="": progress(f, desc=d or None))
            return (st, history, images, gr.update(**sess), gr.update(value=None),
                    *_brush_updates(handlers, st, response, request))

        def on_chip(evt: gr.SelectData, st, request: gr.Request, progress=gr.Progress()):
            st, history, images, sess, response = handlers.chip(
                evt.value, st, request=request, progress=lambda f, d="": progress(f, desc=d or None))
            return (st, history, images, gr.update(**sess), *_brush_updates(handlers, st, response, request))

        def on_example(evt: gr.SelectData, st, request: gr.Request, progress=gr.Progress()):
            value = evt.value or {}
            files = [f.get("path") if isinstance(f, dict) else f for f in value.get("files") or []]
            st, history, images, sess, response = handlers.chat(
                value.get("text", ""), files, st, request=request,
                progress=lambda f, d="": progress(f, desc=d or None))
            return (st, history, images, gr.update(**sess), *_brush_updates(handlers, st, response, request))

        def on_load(st, request: gr.Request):
            st, history, images, sess = handlers.on_load(st, request)
            return st, history, images, gr.update(**sess)

        def on_switch(session_id, st, request: gr.Request):
            return handlers.switch_session(session_id, st, request)

        def on_new(st, request: gr.Request):
            st, history, images, sess = handlers.new_session(st, request)
            return st, history, images, gr.update(**sess)

        def on_delete(st, request: gr.Request):
            st, history, images, sess = handlers.delete_current(st, request)
            return st, history, images, gr.update(**sess)

        private = dict(api_visibility="private")
        box.submit(on_submit, [box, state, brush], [state, chatbot, gallery, sessions, box, brush_panel, brush],
                   concurrency_id=CHAT_QUEUE, concurrency_limit=limit, **private)
        chatbot.option_select(on_chip, [state], [state, chatbot, gallery, sessions, brush_panel, brush],
                              concurrency_id=CHAT_QUEUE, concurrency_limit=limit, **private)
        chatbot.example_select(on_example, [state], [state, chatbot, gallery, sessions, brush_panel, brush],
                               concurrency_id=CHAT_QUEUE, concurrency_limit=limit, **private)
        demo.load(on_load, [state], [state, chatbot, gallery, sessions], **private)
        sessions.input(on_switch, [sessions, state], [state, chatbot, gallery], **private)
        new_btn.click(on_new, [state], [state, chatbot, gallery, sessions], **private)
        delete_btn.click(on_delete, [state], [state, chatbot, gallery, sessions], **private)
        demo.load(lambda: _capabilities_markdown(handlers.api_capabilities()), None, capabilities_md, **private)

        _api_endpoints(handlers, limit)
    return demo


def _api_endpoints(handlers: Handlers, limit: int) -> None:
    """Named endpoints for scripts, on hidden components (files in and out as real files)."""
    with gr.Column(visible=False):
        message = gr.Textbox(label="message")
        images = api_files("images", "multiple")
        mask = api_files("mask", "single")
        session_id = gr.Textbox(label="session_id")
        owner = gr.Textbox(label="owner")
        context = gr.JSON(label="context")
        image_id = gr.Textbox(label="image_id")
        response = gr.JSON(label="response")
        files_out = gr.File(label="images", file_count="multiple")
        file_out = gr.File(label="image")
        listing = gr.JSON(label="result")
        triggers = [gr.Button(visible=False) for _ in range(6)]

    def chat(message, images, mask, session_id, owner, context, request: gr.Request, progress=gr.Progress()):
        return handlers.api_chat(message, images, mask, session_id, owner, context, request=request,
                                 progress=lambda f, d="": progress(f, desc=d or None))

    def list_sessions(owner, request: gr.Request):
        return handlers.api_list_sessions(owner, request)

    def get_session(session_id, owner, request: gr.Request):
        return handlers.api_get_session(session_id, owner, request)

    def delete_session(session_id, owner, request: gr.Request):
        return handlers.api_delete_session(session_id, owner, request)

    def get_image(image_id, owner, request: gr.Request):
        from core.errors import GatewayError

        try:
            return handlers.api_get_image(image_id, owner, request)
        except GatewayError as exc:
            raise gr.Error(f"{exc.code}: {exc.message}") from None
        except Exception:  # noqa: BLE001 - a coded message, never a traceback
            from ui.handlers import _internal_error

            raise gr.Error(f"gateway_error: {_internal_error('get_image').message}") from None

    def capabilities():
        return handlers.api_capabilities()

    triggers[0].click(chat, [message, images, mask, session_id, owner, context], [response, files_out],
                      api_name="chat", concurrency_id=CHAT_QUEUE, concurrency_limit=limit)
    triggers[1].click(list_sessions, [owner], listing, api_name="list_sessions")
    triggers[2].click(get_session, [session_id, owner], listing, api_name="get_session")
    triggers[3].click(delete_session, [session_id, owner], listing, api_name="delete_session")
    triggers[4].click(get_image, [image_id, owner], file_out, api_name="get_image")
    triggers[5].click(capabilities, None, listing, api_name="capabilities")


def load_examples() -> list[dict]:
    """The empty chat's example requests (examples/chats.json; the tests run the same file)."""
    data = json.loads((ROOT / "examples" / "chats.json").read_text())
    return [{"text": e["text"], "files": [str(ROOT / f) for f in e.get("files", [])]} for e in data["start"]]


def _mask_from_editor(value):
    """The painted strokes of the brush editor as an RGBA layer (None when nothing was painted)."""
    if not value:
        return None
    layers = value.get("layers") or []
    for layer in layers:
        if layer is not None and layer.mode == "RGBA" and layer.getextrema()[3][1] > 0:
            return layer
    return None


def _brush_updates(handlers: Handlers, state, response, request):
    """Open the brush on the latest image when the reply asks the user to paint; otherwise clear it."""
    if response.metadata.get("open_brush") and state.get("session_id"):
        owner, _ = handlers.browser_owner(state, request)
        latest = handlers.store.latest_image(state["session_id"], owner)
        if latest is not None:
            path = handlers.exportable(latest.path, owner)
            return gr.update(open=True), gr.update(value=path)
    return gr.update(open=False), gr.update(value=None)


def _capabilities_markdown(listing: dict) -> str:
    lines = ["| capability | backend | status | licence |", "|---|---|---|---|"]
    for cap in listing["capabilities"]:
        if not cap["backends"]:
            lines.append(f"| {cap['name']} | — | not available yet | |")
        for b in cap["backends"]:
            status = b["status"] + (f": {b['reason']}" if b["reason"] else "") + (f" (fix: `{b['fix']}`)" if b["fix"] else "")
            lines.append(f"| {cap['name']} | {b['name']} | {status} | {b['licence']} |")
    router = listing.get("router")
    if router:
        lines.append(f"\nRouter: {router}")
    runtime = listing.get("runtime")
    if runtime:
        lines.append(f"\nRuntime: {runtime['platform']}, device {runtime['device']} ({runtime['dtype'] or '?'}), "
                     f"ONNX {', '.join(runtime['onnx_providers'] or []) or '?'}, downloads "
                     f"{'on' if runtime['downloads']['allowed'] else 'off'}")
        lines += [f"\n**Warning:** {w}" for w in runtime["warnings"]]
    return "\n".join(lines)
