"""The Gradio Blocks page and the named API endpoints.

Page: a sidebar (Sign in with Hugging Face on a Space, New chat, the chats with their message counts, delete
with a confirmation, what this server can do), the chat (images inline, a "what ran" card per reply, chips
under the last reply), the brush right above the input when there is something to paint on, the input with a
Stop button while a request runs, and the chat's images folded below. Sending echoes the message at once (an
unqueued event) and then runs it in a queued generator that draws the stage and a progress bar inside the reply
bubble — no full-page overlay, so the chats and New chat stay usable; everything is drawn from `LiveChat`, so a
reload or another tab shows the same chat. The run and follow events are async watchers that hold no thread and
no queue slot (the work runs on the run board's threads; model runs wait for a model slot in the executor).
Every event here is a public HTTP endpoint: its inputs are checked in ui/live.py and ui/browser_inputs.py, and
`guarded` turns an unexpected exception into a logged error id instead of a red "Error" on the page. The named
API endpoints (and MCP tools) are in ui/api.py.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import uuid
from pathlib import Path

import anyio
import gradio as gr
from gradio.utils import get_upload_folder

from pipeline.identity import browser_state_key
from ui.api import api_endpoints
from ui.browser_inputs import example_at, guard_image_editor, strokes_from_editor
from ui.capabilities_view import render_capabilities
from ui.handlers import Handlers
from ui.live import ERASE_PAINTED, LiveChat
from ui.render import inert
from ui.runs import Painted

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CHAT_QUEUE = "chat"
BRUSH_COLOUR = "#ff0040"
_POLL_S = 0.25

CSS = """
#chat { flex-grow: 1; }
#header h2 { margin-bottom: 0; }
#header p { margin-top: 4px; }
#input-row { align-items: stretch; }
#stop { max-width: 110px; }
#sessions .wrap { flex-direction: column; }
#sessions label { white-space: normal; }
.gw-progress { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; }
.gw-progress progress { width: 180px; height: 10px; accent-color: var(--color-accent); }
.gw-progress .gw-percent { color: var(--body-text-color-subdued); font-size: 0.9em; }
.gw-cap summary { cursor: pointer; }
.gw-cap ul { padding-left: 1.1em; font-size: 0.9em; overflow-wrap: anywhere; }
#capabilities code { white-space: normal; overflow-wrap: anywhere; }
#brush-panel { border: 2px solid var(--color-accent); border-radius: 8px; }
/* While the brush is open the chat makes room, so the image to paint on is where the person looks. */
.gradio-container:has(#brush-panel) #chat { height: 30vh !important; min-height: 200px !important; }
@media (max-width: 767px) {
  #chat .options { display: flex !important; flex-wrap: wrap; gap: 6px; justify-content: flex-end; }
  #chat .options .option { width: auto; padding: 6px 10px; font-size: 0.85em; }
  #header { padding-left: 34px; }
  #header p { display: none; }
  #header h2 { font-size: 1.15em; }
  #chat { height: calc(100dvh - 230px) !important; min-height: 320px; }
  #stop { max-width: 80px; min-width: 64px !important; }
  .gw-progress progress { width: 120px; }
  footer { flex-wrap: wrap; }
}
"""

# Close the sidebar on a narrow screen (it covers the chat there): at load and after a pick.
_CLOSE_SIDEBAR_IF_NARROW = ("if (window.innerWidth < 768) { const s = document.querySelector('#sidebar');"
                            " if (s && s.classList.contains('open')) s.querySelector('.toggle-button')?.click(); }")
# Gradio scopes the `css` of launch() inside the app's content; the page margins around it need a plain style.
_PAGE_STYLE = "@media (max-width: 767px) { .gradio-container .main.fillable.app { padding: 4px 6px !important; } }"
PAGE_JS = ("() => { const s = document.createElement('style'); s.textContent = " + repr(_PAGE_STYLE) + ";"
           " document.head.appendChild(s); " + _CLOSE_SIDEBAR_IF_NARROW + " }")
CLOSE_SIDEBAR_PASS_JS = "(...args) => { " + _CLOSE_SIDEBAR_IF_NARROW + " return args; }"  # several inputs
CLOSE_SIDEBAR_PASS_ONE_JS = "(value) => { " + _CLOSE_SIDEBAR_IF_NARROW + " return value; }"  # one input
# Bring the brush into view once it has been drawn (after the update that opened it).
SHOW_BRUSH_JS = ("() => { setTimeout(() => document.querySelector('#brush-panel')"
                 "?.scrollIntoView({block: 'end', behavior: 'instant'}), 200); }")


def hf_login_enabled(settings, environ=None) -> bool:
    """Sign in with Hugging Face: on a Space with `hf_oauth: true` (which sets OAUTH_CLIENT_ID), unless off.
    `on` forces it elsewhere too, where Gradio signs in with the machine's own Hugging Face login (local testing;
    the app does not start without one)."""
    environ = os.environ if environ is None else environ
    mode = (getattr(settings, "hf_login", "auto") or "auto").lower()
    if mode == "on":
        return True
    on_space = environ.get("SYSTEM") == "spaces" and bool(environ.get("SPACE_ID"))
    return mode == "auto" and on_space and bool(environ.get("OAUTH_CLIENT_ID"))


def build_ui(handlers: Handlers, settings) -> gr.Blocks:
    limit = settings.request_concurrency  # model runs are gated inside the executor, not here
    guard_image_editor(gr.ImageEditor)  # the brush: layers decoded by our guarded decoder, bounded blob store
    live = LiveChat(handlers, upload_folder=get_upload_folder())
    board = live.board
    examples = load_examples()
    decode_limits = dict(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    # Gradio keeps a copy of every file it served; drop copies older than a day (the store keeps the originals).
    with gr.Blocks(title="AI image gateway", delete_cache=(3600, 86400)) as demo:
        # Gradio sends BrowserState's key to every page: a one-way derived key, never the owner secret.
        state = gr.BrowserState({"token": "", "session_id": ""}, storage_key="gateway",
                                secret=browser_state_key(settings.owner_secret))
        ticket = gr.State("")
        with gr.Sidebar(label="Chats", open=True, elem_id="sidebar"):
            if hf_login_enabled(settings):
                gr.LoginButton(value="Sign in with Hugging Face", elem_id="hf-login", size="sm")
                gr.Markdown("Signed in, your chats follow your account on every device. Without signing in they "
                            "stay in this browser.", elem_id="login-note")
            new_btn = gr.Button("New chat", elem_id="new-chat", variant="primary")
            sessions = gr.Radio(label="Your chats", info="The number is how many messages each chat holds.",
                                choices=[], elem_id="sessions", interactive=True)
            delete_btn = gr.Button("Delete this chat…", elem_id="delete-chat", size="sm")
            with gr.Group(visible=False, elem_id="delete-confirm") as confirm_box:
                confirm_md = gr.Markdown(elem_id="delete-question")
                with gr.Row():
                    confirm_yes = gr.Button("Delete it", variant="stop", size="sm", elem_id="delete-yes")
                    confirm_no = gr.Button("Keep it", size="sm", elem_id="delete-no")
            with gr.Accordion("What this server can do", open=False, elem_id="capabilities-panel"):
                capabilities_md = gr.HTML(render_capabilities(handlers.api_capabilities()), elem_id="capabilities")
        gr.Markdown("## AI image gateway\nAsk for an image, or attach one and say what to do with it.", elem_id="header")
        chatbot = gr.Chatbot(label="Conversation", show_label=False, elem_id="chat", height="62vh", min_height=320,
                             allow_file_downloads=True, examples=examples, buttons=["copy", "copy_all"],
                             feedback_options=None, sanitize_html=True,
                             placeholder="Try “create a fantasy dragon”, or attach a photo and say “remove the background”.")
        with gr.Group(visible=False, elem_id="brush-panel") as brush_panel:
            brush_note = gr.Markdown(elem_id="brush-note")
            brush = gr.ImageEditor(elem_id="brush", type="filepath", layers=False, show_label=False, height=400,
                                   brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=24),
                                   eraser=gr.Eraser(default_size=24), sources=(), transforms=(),
                                   buttons=["fullscreen"])
            with gr.Row():
                erase_btn = gr.Button("Erase what I painted", variant="primary", size="sm", elem_id="brush-erase")
                close_btn = gr.Button("Close the brush", size="sm", elem_id="brush-close")
        with gr.Row(elem_id="input-row", equal_height=True):
            box = gr.MultimodalTextbox(elem_id="msg", file_types=["image"], file_count="multiple", scale=8,
                                       placeholder="Type a request, attach images…", show_label=False, autofocus=True)
            stop_btn = gr.Button("Stop", variant="stop", visible=False, elem_id="stop", scale=1, min_width=64)
        with gr.Accordion("All images of this chat", open=False, elem_id="gallery-panel"):
            gallery = gr.Gallery(show_label=False, elem_id="gallery", columns=6, height=220, object_fit="contain",
                                 buttons=["download", "fullscreen"])

        # ---- helpers ---------------------------------------------------------------------------------------------
        def brush_updates(painted: Painted | None):
            if painted is None:
                return gr.update(visible=False), gr.skip(), gr.update(value=None)
            layers = [painted.strokes_path] if painted.strokes_path else []
            value = {"background": painted.image_path, "layers": layers, "composite": None}
            return (gr.update(visible=True), painted.note,
                    gr.update(value=value, brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed",
                                                          default_size=painted.size)))

        def view(owner, st, chat):
            """Everything a tab shows for one chat (after load, switch, new, delete)."""
            return (st, live.render(owner, chat), live.gallery(owner, chat), gr.update(**live.sessions(owner, chat)),
                    gr.update(visible=live.busy(owner, chat)), gr.update(visible=False),
                    *brush_updates(live.restore_brush(owner, chat)))

        def sent(st, run, owner, chat):
            if run is None:
                return st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return (st, run.ticket, live.render(owner, chat), gr.update(value=None), gr.update(visible=run.in_flight),
                    gr.update(**live.sessions(owner, chat)))

        # ---- browser events (every one is a public endpoint: ui/browser_inputs.py checks what they get) ----------
        def take_strokes(owner, st, request, brush_value):
            """The editor's strokes are read when a message is sent (the editor reports no event per stroke)."""
            strokes = strokes_from_editor(brush_value, **decode_limits)
            if strokes is not None:
                live.paint(owner, live.look_at(st, owner, request), strokes)

        def signed_in(token):
            """The signed-in person's Hugging Face token, for backends that call Hugging Face on their behalf."""
            value = getattr(token, "token", None)
            return {"hf_token": value} if isinstance(value, str) else {}

        @guarded(6)
        def on_send(value, st, brush_value, request: gr.Request, profile: gr.OAuthProfile | None,
                    token: gr.OAuthToken | None):
            owner, st = live.identity(st, request, profile)
            take_strokes(owner, st, request, brush_value)
            value = value if isinstance(value, dict) else {}
            run = live.send(value.get("text"), value.get("files") or [], st, owner, request,
                            credentials=signed_in(token))
            return sent(st, run, owner, live.look_at(st, owner, request))

        @guarded(9)
        def on_chip(evt: gr.SelectData, st, request: gr.Request, profile: gr.OAuthProfile | None,
                    token: gr.OAuthToken | None):
            owner, st = live.identity(st, request, profile)
            chat = live.look_at(st, owner, request)
            action = live.chip(owner, getattr(evt, "value", None))  # an opaque id; the server keeps the context
            if action is None:
                return (st, "", *(gr.skip(),) * 7)
            kind, what = action
            if kind == "brush":  # "Erase by painting": open the brush on that image, send nothing
                return (st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                        *brush_updates(live.open_brush(owner, chat, what)))
            run = live.send(what["message"], [], st, owner, request, what["context"], credentials=signed_in(token))
            return (*sent(st, run, owner, chat), gr.skip(), gr.skip(), gr.skip())

        @guarded(6)
        def on_example(evt: gr.SelectData, st, request: gr.Request, profile: gr.OAuthProfile | None,
                       token: gr.OAuthToken | None):
            owner, st = live.identity(st, request, profile)
            example = example_at(getattr(evt, "index", None), examples)  # by index, from the server's own list
            if example is None:
                return (st, "", *(gr.skip(),) * 4)
            run = live.send(example["text"], example["files"], st, owner, request, credentials=signed_in(token),
                            trusted_files=True)
            return sent(st, run, owner, live.look_at(st, owner, request))

        @guarded(7)
        def on_erase(st, brush_value, request: gr.Request, profile: gr.OAuthProfile | None,
                     token: gr.OAuthToken | None):
            owner, st = live.identity(st, request, profile)
            take_strokes(owner, st, request, brush_value)
            chat = live.look_at(st, owner, request)
            painted = board.brush(owner, chat)
            if painted is None or painted.strokes is None:
                return (st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                        "**Paint over the object first**, then press the button.")
            run = live.send(ERASE_PAINTED, [], st, owner, request, credentials=signed_in(token))
            return (*sent(st, run, owner, chat), gr.skip())

        @guarded(5)
        async def on_run(tk, st, request: gr.Request, profile: gr.OAuthProfile | None):
            """Start the run the send registered and draw its progress. Async: waiting here holds no thread and
            no chat slot, so a slow or abandoned chat never blocks anybody else's."""
            owner, st = live.identity(st, request, profile)
            run = board.get(tk if isinstance(tk, str) else "")
            if run is None or run.owner != owner:
                yield (gr.skip(),) * 5
                return
            live.start(run)
            tab, last = live.tab(request), None
            while not (run.finished.is_set() or run.cancel.is_set()):
                if board.viewing(tab, run):
                    viewed = board.view(tab)[1]
                    history = await to_thread(live.render, owner, viewed)
                    if history != last:
                        last = history
                        yield gr.skip(), history, gr.skip(), gr.skip(), gr.update(visible=live.busy(owner, viewed))
                await asyncio.sleep(_POLL_S)
            if board.viewing(tab, run):
                chat = live.look_at(st, owner, request)  # a new chat's draft now names its session
                yield (st, *(await to_thread(lambda: (live.render(owner, chat), live.gallery(owner, chat)))),
                       gr.update(**live.sessions(owner, chat)), gr.update(visible=live.busy(owner, chat)))
            else:
                current = board.view(tab)
                yield (gr.skip(), gr.skip(), gr.skip(),
                       gr.update(**live.sessions(owner, current[1] if current else "")), gr.skip())

        @guarded(3)
        def on_brush_after(tk, st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, _ = live.identity(st, request, profile)
            run = board.get(tk if isinstance(tk, str) else "")
            if run is None or run.owner != owner or not board.viewing(live.tab(request), run):
                return gr.skip(), gr.skip(), gr.skip()
            after = live.brush_after(run)
            if after is False:
                return gr.skip(), gr.skip(), gr.skip()
            return brush_updates(after)

        @guarded(4)
        async def on_follow(st, request: gr.Request, profile: gr.OAuthProfile | None):
            """After a load or a switch: keep drawing the chat while its requests run (sent from anywhere)."""
            owner, st = live.identity(st, request, profile)
            tab = live.tab(request)
            current = board.view(tab)
            if current is None or not board.in_flight(owner, current[1]):
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            chat, last = current[1], None
            while True:
                now = board.view(tab)
                if now != (owner, chat):
                    if now is None or now[0] != owner or board.session_of(chat, owner) != now[1]:
                        return  # the tab shows another chat now
                    chat = now[1]  # the new chat's first message was stored: it is that session now
                if not board.in_flight(owner, chat):
                    break
                history = await to_thread(live.render, owner, chat)
                if history != last:
                    last = history
                    yield history, gr.skip(), gr.skip(), gr.update(visible=live.busy(owner, chat))
                await asyncio.sleep(_POLL_S)
            yield (*(await to_thread(lambda: (live.render(owner, chat), live.gallery(owner, chat)))),
                   gr.update(**live.sessions(owner, chat)), gr.update(visible=live.busy(owner, chat)))

        @guarded(2)
        def on_stop(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            live.stop(st, owner, request)
            return live.render(owner, live.look_at(st, owner, request)), gr.update(visible=False)

        @guarded(10)
        def on_load(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            return view(owner, st, live.look_at(st, owner, request))

        @guarded(10)
        def on_switch(session_id, st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            return view(owner, st, live.switch(session_id, st, owner, request))

        @guarded(10)
        def on_new(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            return view(owner, st, live.new_chat(st, owner, request))

        @guarded(2)
        def on_ask_delete(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            session_id = live.session_of(owner, live.look_at(st, owner, request))
            if not session_id:
                return gr.update(visible=False), gr.skip()
            session = handlers.store.get_session(session_id, owner)
            images = len(handlers.store.images_of_session(session_id, owner))
            question = (f"Delete **“{inert(session.title or 'New chat', code=False)}”** with its "
                        f"{session.message_count} messages and {images} image{'s' if images != 1 else ''}? "
                        "This cannot be undone.")
            return gr.update(visible=True), question

        @guarded(10)
        def on_delete(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            return view(owner, st, live.delete(st, owner, request))

        @guarded(3)
        def on_close_brush(st, request: gr.Request, profile: gr.OAuthProfile | None):
            owner, st = live.identity(st, request, profile)
            live.close_brush(owner, live.look_at(st, owner, request))
            return gr.update(visible=False), gr.skip(), gr.update(value=None)

        private = dict(api_visibility="private", show_progress="hidden")
        fast = dict(private, queue=False)
        sending = [state, ticket, chatbot, box, stop_btn, sessions]
        running = [state, chatbot, gallery, sessions, stop_btn]
        brushing = [brush_panel, brush_note, brush]
        viewing = [state, chatbot, gallery, sessions, stop_btn, confirm_box, *brushing]

        def then_run(event):
            # The run event only watches (the work runs on the board's threads, model runs wait for a model slot
            # in the executor), so it takes no chat slot: a slow chat never holds up anybody else's.
            # The reply and the brush are updated by separate events: the chat never waits on the editor.
            return (event.then(on_run, [ticket, state], running, concurrency_limit=None, **private)
                    .then(on_brush_after, [ticket, state], brushing, **fast)
                    .then(None, js=SHOW_BRUSH_JS))

        then_run(box.submit(on_send, [box, state, brush], sending, **fast))
        then_run(chatbot.option_select(on_chip, [state], sending + brushing, **fast).then(None, js=SHOW_BRUSH_JS))
        then_run(chatbot.example_select(on_example, [state], sending, **fast))
        then_run(erase_btn.click(on_erase, [state, brush], sending + [brush_note], **fast))
        stop_btn.click(on_stop, [state], [chatbot, stop_btn], **fast)

        follow = dict(fn=on_follow, inputs=[state], outputs=[chatbot, gallery, sessions, stop_btn],
                      concurrency_limit=None, **private)
        demo.load(on_load, [state], viewing, **private).then(None, js=SHOW_BRUSH_JS).then(**follow)
        demo.load(None, js=PAGE_JS)
        sessions.input(on_switch, [sessions, state], viewing, js=CLOSE_SIDEBAR_PASS_JS, **fast).then(**follow)
        new_btn.click(on_new, [state], viewing, js=CLOSE_SIDEBAR_PASS_ONE_JS, **fast)
        chatbot.clear(on_new, [state], viewing, **fast)  # Gradio's own clear icon = a new chat, nothing is lost
        delete_btn.click(on_ask_delete, [state], [confirm_box, confirm_md], **fast)
        confirm_no.click(lambda: gr.update(visible=False), None, confirm_box, **fast)
        confirm_yes.click(on_delete, [state], viewing, **fast)
        close_btn.click(on_close_brush, [state], brushing, **fast)
        demo.load(lambda: render_capabilities(handlers.api_capabilities()), None, capabilities_md, **private)

        api_endpoints(handlers, limit, CHAT_QUEUE)
    return demo


def guarded(outputs: int):
    """An event handler that never shows the page a red "Error": an unexpected exception is logged with an error
    id and the event changes nothing (for a generator: stops). Expected problems are replies, made earlier."""
    def wrap(fn):
        skips = tuple(gr.skip() for _ in range(outputs))

        def failed():
            error_id = uuid.uuid4().hex[:12]
            log.exception("error %s in the page event %s", error_id, fn.__name__)
            return skips if outputs > 1 else skips[0]

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen(*args, **kwargs):
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                except Exception:  # noqa: BLE001 - logged; the page keeps working
                    yield failed()
            return agen

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - logged; the page keeps working
                return failed()
        return call
    return wrap


async def to_thread(fn, *args):
    """Store reads and rendering off the event loop (they are quick, but never block other requests)."""
    return await anyio.to_thread.run_sync(fn, *args)


def load_examples() -> list[dict]:
    """The empty chat's example requests (examples/chats.json; the tests run the same file)."""
    data = json.loads((ROOT / "examples" / "chats.json").read_text())
    return [{"text": e["text"], "files": [str(ROOT / f) for f in e.get("files", [])]} for e in data["start"]]
