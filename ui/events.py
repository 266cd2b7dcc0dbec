"""What the page's events do, and which component feeds which event.

`PageEvents` holds one method per browser event; each resolves the owner first (`LiveChat.identity`, which reduces
the browser state to known shapes), works through `LiveChat` and returns component values. Every one of them is a
public HTTP endpoint whatever its `api_visibility`, so its inputs are checked (ui/live.py, ui/browser_inputs.py)
and `guarded` turns an unexpected exception into a logged error id instead of a red "Error" on the page. Sending
echoes the message at once (an unqueued event) and then `run` starts it and draws the stage and a progress bar
inside the reply bubble; `run` and `follow` are async watchers that hold no thread and no queue slot (the work runs
on the run board's threads; model runs wait for a model slot in the executor). `wire` connects the events to the
panels of ui/panels.py.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid

import anyio
import gradio as gr

from ui.browser_inputs import example_at, strokes_from_editor
from ui.capabilities_view import render_capabilities
from ui.live import ERASE_PAINTED
from ui.panels import brush_updates
from ui.render import inert
from ui.style import CLOSE_SIDEBAR_PASS_JS, CLOSE_SIDEBAR_PASS_ONE_JS, PAGE_JS, SHOW_BRUSH_JS

log = logging.getLogger(__name__)
POLL_S = 0.25


def guarded(outputs: int):
    """An event handler that never shows the page a red "Error": an unexpected exception is logged with an error
    id and the event changes nothing (for a generator: stops). Expected problems are replies, made earlier."""
    def wrap(fn):
        skips = tuple(gr.skip() for _ in range(outputs))

        def failed():
            log.exception("error %s in the page event %s", uuid.uuid4().hex[:12], fn.__name__)
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


def signed_in(token) -> dict:
    """The signed-in person's Hugging Face token, for backends that call Hugging Face on their behalf."""
    value = getattr(token, "token", None)
    return {"hf_token": value} if isinstance(value, str) else {}


class PageEvents:
    def __init__(self, live, examples: list[dict], decode_limits: dict):
        self.live, self.board, self.handlers = live, live.board, live.handlers
        self.examples, self.decode_limits = examples, decode_limits

    # ---- what a tab shows -------------------------------------------------------------------------------------
    def view(self, owner, st, chat):
        """Everything a tab shows for one chat (after load, switch, new, delete)."""
        live = self.live
        return (st, live.render(owner, chat), live.gallery(owner, chat), gr.update(**live.sessions(owner, chat)),
                gr.update(visible=live.busy(owner, chat)), gr.update(visible=False),
                *brush_updates(live.restore_brush(owner, chat)))

    def sent(self, st, run, owner, chat):
        if run is None:
            return st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (st, run.ticket, self.live.render(owner, chat), gr.update(value=None),
                gr.update(visible=run.in_flight), gr.update(**self.live.sessions(owner, chat)))

    def take_strokes(self, owner, st, request, brush_value):
        """The editor's strokes are read when a message is sent (the editor reports no event per stroke)."""
        strokes = strokes_from_editor(brush_value, **self.decode_limits)
        if strokes is not None:
            self.live.paint(owner, self.live.look_at(st, owner, request), strokes)

    # ---- sending ------------------------------------------------------------------------------------------------
    @guarded(6)
    def send(self, value, st, brush_value, request: gr.Request, profile: gr.OAuthProfile | None,
             token: gr.OAuthToken | None):
        owner, st = self.live.identity(st, request, profile)
        self.take_strokes(owner, st, request, brush_value)
        value = value if isinstance(value, dict) else {}
        run = self.live.send(value.get("text"), value.get("files") or [], st, owner, request,
                             credentials=signed_in(token))
        return self.sent(st, run, owner, self.live.look_at(st, owner, request))

    @guarded(9)
    def chip(self, evt: gr.SelectData, st, request: gr.Request, profile: gr.OAuthProfile | None,
             token: gr.OAuthToken | None):
        owner, st = self.live.identity(st, request, profile)
        chat = self.live.look_at(st, owner, request)
        action = self.live.chip(owner, getattr(evt, "value", None))  # an opaque id; the server keeps the context
        if action is None:
            return (st, "", *(gr.skip(),) * 7)
        kind, what = action
        if kind == "brush":  # "Erase by painting": open the brush on that image, send nothing
            return (st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    *brush_updates(self.live.open_brush(owner, chat, what)))
        run = self.live.send(what["message"], [], st, owner, request, what["context"], credentials=signed_in(token))
        return (*self.sent(st, run, owner, chat), gr.skip(), gr.skip(), gr.skip())

    @guarded(6)
    def example(self, evt: gr.SelectData, st, request: gr.Request, profile: gr.OAuthProfile | None,
                token: gr.OAuthToken | None):
        owner, st = self.live.identity(st, request, profile)
        example = example_at(getattr(evt, "index", None), self.examples)  # by index, from the server's own list
        if example is None:
            return (st, "", *(gr.skip(),) * 4)
        run = self.live.send(example["text"], example["files"], st, owner, request, credentials=signed_in(token),
                             trusted_files=True)
        return self.sent(st, run, owner, self.live.look_at(st, owner, request))

    @guarded(7)
    def erase(self, st, brush_value, request: gr.Request, profile: gr.OAuthProfile | None,
              token: gr.OAuthToken | None):
        owner, st = self.live.identity(st, request, profile)
        self.take_strokes(owner, st, request, brush_value)
        chat = self.live.look_at(st, owner, request)
        painted = self.board.brush(owner, chat)
        if painted is None or painted.strokes is None:
            return (st, "", gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    "**Paint over the object first**, then press the button.")
        run = self.live.send(ERASE_PAINTED, [], st, owner, request, credentials=signed_in(token))
        return (*self.sent(st, run, owner, chat), gr.skip())

    # ---- watching ---------------------------------------------------------------------------------------------
    @guarded(5)
    async def run(self, ticket, st, request: gr.Request, profile: gr.OAuthProfile | None):
        """Start the run the send registered and draw its progress. Async: waiting here holds no thread and no chat
        slot, so a slow or abandoned chat never blocks anybody else's."""
        live, board = self.live, self.board
        owner, st = live.identity(st, request, profile)
        run = board.get(ticket if isinstance(ticket, str) else "")
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
            await asyncio.sleep(POLL_S)
        if board.viewing(tab, run):
            chat = live.look_at(st, owner, request)  # a new chat's draft now names its session
            yield (st, *(await to_thread(lambda: (live.render(owner, chat), live.gallery(owner, chat)))),
                   gr.update(**live.sessions(owner, chat)), gr.update(visible=live.busy(owner, chat)))
        else:
            current = board.view(tab)
            yield (gr.skip(), gr.skip(), gr.skip(), gr.update(**live.sessions(owner, current[1] if current else "")),
                   gr.skip())

    @guarded(3)
    def brush_after(self, ticket, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, _ = self.live.identity(st, request, profile)
        run = self.board.get(ticket if isinstance(ticket, str) else "")
        if run is None or run.owner != owner or not self.board.viewing(self.live.tab(request), run):
            return gr.skip(), gr.skip(), gr.skip()
        after = self.live.brush_after(run)
        return (gr.skip(), gr.skip(), gr.skip()) if after is False else brush_updates(after)

    @guarded(4)
    async def follow(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        """After a load or a switch: keep drawing the chat while its requests run (sent from anywhere)."""
        live, board = self.live, self.board
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
            await asyncio.sleep(POLL_S)
        yield (*(await to_thread(lambda: (live.render(owner, chat), live.gallery(owner, chat)))),
               gr.update(**live.sessions(owner, chat)), gr.update(visible=live.busy(owner, chat)))

    @guarded(2)
    def stop(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        self.live.stop(st, owner, request)
        return self.live.render(owner, self.live.look_at(st, owner, request)), gr.update(visible=False)

    # ---- the chat list ----------------------------------------------------------------------------------------
    @guarded(10)
    def load(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        return self.view(owner, st, self.live.look_at(st, owner, request))

    @guarded(10)
    def switch(self, session_id, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        return self.view(owner, st, self.live.switch(session_id, st, owner, request))

    @guarded(10)
    def new(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        return self.view(owner, st, self.live.new_chat(st, owner, request))

    @guarded(2)
    def ask_delete(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        session_id = self.live.session_of(owner, self.live.look_at(st, owner, request))
        if not session_id:
            return gr.update(visible=False), gr.skip()
        store = self.handlers.store
        session = store.get_session(session_id, owner)
        images = len(store.images_of_session(session_id, owner))
        question = (f"Delete **“{inert(session.title or 'New chat', code=False)}”** with its "
                    f"{session.message_count} messages and {images} image{'s' if images != 1 else ''}? "
                    "This cannot be undone.")
        return gr.update(visible=True), question

    @guarded(10)
    def delete(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        return self.view(owner, st, self.live.delete(st, owner, request))

    @guarded(3)
    def close_brush(self, st, request: gr.Request, profile: gr.OAuthProfile | None):
        owner, st = self.live.identity(st, request, profile)
        self.live.close_brush(owner, self.live.look_at(st, owner, request))
        return gr.update(visible=False), gr.skip(), gr.update(value=None)


def wire(demo, events: PageEvents, state, ticket, sidebar, chat) -> None:
    """Which component feeds which event, and what each event redraws."""
    brush = chat.brush
    private = dict(api_visibility="private", show_progress="hidden")
    fast = dict(private, queue=False)
    sending = [state, ticket, chat.chatbot, chat.box, chat.stop, sidebar.sessions]
    running = [state, chat.chatbot, chat.gallery, sidebar.sessions, chat.stop]
    brushing = [brush.panel, brush.note, brush.editor]
    viewing = [state, chat.chatbot, chat.gallery, sidebar.sessions, chat.stop, sidebar.confirm_box, *brushing]

    def then_run(event):
        # The run event only watches (no queue slot); the reply and the brush are updated by separate events, so
        # the chat never waits on the editor.
        return (event.then(events.run, [ticket, state], running, concurrency_limit=None, **private)
                .then(events.brush_after, [ticket, state], brushing, **fast)
                .then(None, js=SHOW_BRUSH_JS))

    then_run(chat.box.submit(events.send, [chat.box, state, brush.editor], sending, **fast))
    then_run(chat.chatbot.option_select(events.chip, [state], sending + brushing, **fast).then(None, js=SHOW_BRUSH_JS))
    then_run(chat.chatbot.example_select(events.example, [state], sending, **fast))
    then_run(brush.erase.click(events.erase, [state, brush.editor], sending + [brush.note], **fast))
    chat.stop.click(events.stop, [state], [chat.chatbot, chat.stop], **fast)

    follow = dict(fn=events.follow, inputs=[state], outputs=[chat.chatbot, chat.gallery, sidebar.sessions, chat.stop],
                  concurrency_limit=None, **private)
    demo.load(events.load, [state], viewing, **private).then(None, js=SHOW_BRUSH_JS).then(**follow)
    demo.load(None, js=PAGE_JS)
    sidebar.sessions.input(events.switch, [sidebar.sessions, state], viewing, js=CLOSE_SIDEBAR_PASS_JS,
                           **fast).then(**follow)
    sidebar.new_chat.click(events.new, [state], viewing, js=CLOSE_SIDEBAR_PASS_ONE_JS, **fast)
    chat.chatbot.clear(events.new, [state], viewing, **fast)  # Gradio's own clear icon = a new chat, nothing is lost
    sidebar.delete.click(events.ask_delete, [state], [sidebar.confirm_box, sidebar.confirm_question], **fast)
    sidebar.confirm_no.click(lambda: gr.update(visible=False), None, sidebar.confirm_box, **fast)
    sidebar.confirm_yes.click(events.delete, [state], viewing, **fast)
    brush.close.click(events.close_brush, [state], brushing, **fast)
    handlers = events.handlers
    demo.load(lambda: render_capabilities(handlers.api_capabilities()), None, sidebar.capabilities, **private)
