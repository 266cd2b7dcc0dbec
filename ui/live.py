"""The browser's chat, live: send (echo at once), run (progress in the reply bubble), stop, follow, and the brush.

`LiveChat` sits between the Gradio events (ui/layout.py) and the pipeline: it registers a message on the
`RunBoard` and renders the chat from the store plus the runs in flight, so every tab that shows a chat — the
one that sent the message, another tab, the same tab after a reload — draws the same thing. It returns plain
values; layout.py turns them into component updates. The brush is kept here too: which image it shows, the
strokes painted so far (saved as a PNG so a reload restores them) and the brush size that fits the image.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from core.errors import NotFound
from pipeline.identity import export_key
from pipeline.process import session_title
from ui.handlers import _forwarded_credentials as forwarded_credentials
from ui.render import chip_value, render_history, render_response, run_messages
from ui.runs import DONE, RUNNING, STOPPED, STOPPING, Painted, Run, RunBoard, new_draft

log = logging.getLogger(__name__)

BRUSH_FRACTION = 0.025  # default brush diameter as a share of the image's shorter side
ERASE_PAINTED = "erase what I painted"


def brush_size(width: int, height: int) -> int:
    """A brush that outlines an object without covering its neighbours: 2.5% of the shorter side, 4–64 px."""
    return int(max(4, min(64, round(min(width, height) * BRUSH_FRACTION))))


class LiveChat:
    def __init__(self, handlers, board: RunBoard | None = None):
        self.handlers = handlers
        self.store = handlers.store
        self.pipeline = handlers.pipeline
        self.board = board or RunBoard()
        self._brush_dir = handlers.brush_dir  # this instance's, never a shared temp dir

    # ---- identity and the chat a tab shows ---------------------------------------------------------------------
    def identity(self, state, request=None, profile=None) -> tuple[str, dict]:
        return self.handlers.browser_owner(state, request, profile)

    @staticmethod
    def tab(request) -> str:
        return getattr(request, "session_hash", None) or "no-tab"

    def chat_key(self, state: dict, owner: str) -> str:
        """The chat this browser state points at: its session, else its draft (a new chat with no message yet)."""
        session_id = state.get("session_id") or ""
        if session_id:
            return session_id
        if not state.get("draft"):
            state["draft"] = new_draft()
        return state["draft"]

    def look_at(self, state: dict, owner: str, request) -> str:
        chat = self.chat_key(state, owner)
        if not chat.startswith("draft:"):
            try:
                self.store.get_session(chat, owner)
            except NotFound:
                if not self.board.runs_in(owner, chat):  # (a refused first message stays on screen a while)
                    state["session_id"] = ""
                    chat = self.chat_key(state, owner)
        self.board.set_view(self.tab(request), owner, chat)
        return chat

    # ---- what a tab shows ---------------------------------------------------------------------------------------
    def render(self, owner: str, chat: str) -> list[dict]:
        session_id = self.board.session_of(chat)
        runs = self.board.runs_in(owner, chat)
        active = [r for r in runs if r.state in (RUNNING, STOPPING)]
        history = []
        if session_id:
            try:
                rows = self.store.history(session_id, owner, limit=self.handlers.settings.history_page_size)
            except NotFound:
                rows = []
            history = render_history(rows, lambda image: self.handlers.exportable(image.path, owner),
                                     extra_options=lambda row: self._ui_chips(row),
                                     drop_trailing_user=bool(active))
        for run in runs:
            if run.in_flight:
                history += run_messages(run)
            elif run.state == STOPPED and run.response is None:
                history += run_messages(run)  # stopped before it started: shown until it ages out
            elif run.state == DONE and run.response is not None and run.response.message_id is None:
                history += run_messages(run)[:-1] + render_response(
                    run.response, lambda image: self.handlers.exportable(image.path, owner))
        return history

    def gallery(self, owner: str, chat: str) -> list:
        session_id = self.board.session_of(chat)
        return self.handlers.gallery(owner, session_id) if session_id else []

    def sessions(self, owner: str, chat: str) -> dict:
        return self.handlers.session_choices(owner, self.board.session_of(chat))

    def busy(self, owner: str, chat: str) -> bool:
        """Whether the chat has a run that Stop can still end (a stopped run winding down does not count)."""
        return any(not r.cancel.is_set() for r in self.board.in_flight(owner, chat))

    def _ui_chips(self, row) -> list[dict]:
        """"Erase by painting" under the last reply that has an image: opens the brush on that image — unless the
        reply's own chips already hold the brush chip ("Paint it instead", see pipeline/suggest.py rule 7)."""
        if not row.images or "object_removal" not in self.handlers.registry.available_names():
            return []
        if any((chip.get("context") or {}).get("ui") == "brush" for chip in (row.metadata or {}).get("chips") or []):
            return []
        image = next((i for i in row.images if (i.recipe or {}).get("output") != "mask"), row.images[0])
        return [{"label": "Erase by painting", "value": chip_value("", {"ui": "brush", "image_id": image.id})}]

    # ---- sending ----------------------------------------------------------------------------------------------
    def send(self, text: str, files: list, state: dict, owner: str, request, context: dict | None = None,
             credentials: dict | None = None) -> Run | None:
        """Register a message and return its run (None when there is nothing to send). `credentials` (the
        signed-in person's Hugging Face token, the caller's ZeroGPU token) go to the pipeline, never to the store."""
        text = (text or "").strip()
        files = [f for f in files or [] if f]
        context = dict(context or {})
        context.update(forwarded_credentials(request))
        context.update({k: v for k, v in (credentials or {}).items() if v})
        if not text and not files and not context.get("image_ids"):
            return None
        chat = self.look_at(state, owner, request)
        if chat.startswith("draft:"):
            # The first message of a new chat: the session exists from now on, so the chat list shows it while
            # its first request runs and a second quick message joins it. A refused message removes it again.
            chat = self.store.create_session(owner, title=session_title(text or "Images")).id
            state["session_id"] = chat
            state.pop("draft", None)
            self.board.set_view(self.tab(request), owner, chat)
        painted = self.board.brush(owner, chat)
        used_mask = False
        if painted is not None and painted.strokes is not None and "mask" not in context:
            context["mask"] = painted.strokes  # what the person painted goes with the next message
            context.setdefault("image_ids", [painted.image_id])
            used_mask = True
        echo = list(files) + self._paths_of(context.get("image_ids") or [], owner)
        run = Run(owner=owner, tab=self.tab(request), chat=chat, text=text, files=files, context=context,
                  echo_images=echo, used_mask=used_mask)
        return self.board.add(run)

    def _paths_of(self, image_ids, owner) -> list[str]:
        paths = []
        for image_id in image_ids:
            try:
                paths.append(self.handlers.exportable(self.store.get_image(str(image_id), owner).path, owner))
            except NotFound:
                pass
        return paths

    def start(self, run: Run) -> None:
        if run.state == "waiting" and not run.launched:
            run.launched = True
            self.board.start(run, self._work)

    def _work(self, run: Run, session_id: str):
        context = {k: v for k, v in run.context.items() if k != "ui"}
        context.update(owner=run.owner, progress=run.progress, cancel_event=run.cancel)
        response = self.pipeline.process_message(run.text, session_id, list(run.files), context)
        if response.message_id is None and not self.store.message_count(session_id, run.owner):
            self.handlers.delete_session(session_id, run.owner)  # refused as the first message: no empty chat is left
        return response

    def stop(self, state: dict, owner: str, request) -> list[Run]:
        return self.board.stop(owner, self.look_at(state, owner, request))

    # ---- sessions ---------------------------------------------------------------------------------------------
    def new_chat(self, state: dict, owner: str, request) -> str:
        state["session_id"] = ""
        state["draft"] = new_draft()
        return self.look_at(state, owner, request)

    def switch(self, session_id: str, state: dict, owner: str, request) -> str:
        state["session_id"] = session_id or ""
        state.pop("draft", None)
        return self.look_at(state, owner, request)

    def delete(self, state: dict, owner: str, request) -> str:
        chat = self.look_at(state, owner, request)
        session_id = self.board.session_of(chat)
        if session_id:
            self.board.stop(owner, chat)
            self.handlers.delete_session(session_id, owner)  # also withdraws the image URLs handed out for it
            self.close_brush(owner, chat)
        return self.new_chat(state, owner, request)

    # ---- the brush --------------------------------------------------------------------------------------------
    def open_brush(self, owner: str, chat: str, image_id: str | None = None, note: str = "") -> Painted | None:
        session_id = self.board.session_of(chat)
        try:
            image = (self.store.get_image(image_id, owner) if image_id else
                     self.store.latest_image(session_id, owner) if session_id else None)
        except NotFound:
            image = None
        if image is None:
            return None
        current = self.board.brush(owner, chat)
        if current is not None and current.image_id == image.id:
            return current  # the same image: keep what was painted
        self.close_brush(owner, chat)
        painted = Painted(image.id, self.handlers.exportable(image.path, owner), size=brush_size(image.width, image.height),
                          note=note or "Paint over what to erase, then press **Erase what I painted**.")
        self.board.open_brush(owner, chat, painted)
        return painted

    def close_brush(self, owner: str, chat: str) -> None:
        """Close the chat's brush; its saved strokes go with it."""
        painted = self.board.brush(owner, chat)
        if painted is not None and painted.strokes_path:
            Path(painted.strokes_path).unlink(missing_ok=True)
        self.board.close_brush(owner, chat)

    def paint(self, owner: str, chat: str, strokes) -> Painted | None:
        """Keep the strokes (an RGBA layer, None when the canvas was cleared) for the next message and a reload."""
        painted = self.board.brush(owner, chat)
        if painted is None:
            return None
        painted.strokes = strokes
        if strokes is None and painted.strokes_path:  # the canvas was cleared: nothing to restore any more
            Path(painted.strokes_path).unlink(missing_ok=True)
        painted.strokes_path = None
        if strokes is not None:
            key = export_key(self.handlers.settings.owner_secret)  # derived: the secret itself never names a file
            name = hmac.new(key.encode(), f"{owner}:{chat}:{painted.image_id}".encode(), hashlib.sha256).hexdigest()[:40]
            self._brush_dir.mkdir(parents=True, exist_ok=True)
            path = self._brush_dir / f"{name}.png"
            tmp = path.with_suffix(".part")
            strokes.save(tmp, format="PNG")
            tmp.replace(path)
            painted.strokes_path = str(path)
        return painted

    def brush_after(self, run: Run) -> Painted | None | bool:
        """What the brush does once a run is over: a Painted to show, None to close it, False to leave it."""
        response = run.response
        if response is None:
            return False
        chat = response.session_id or run.chat
        if response.metadata.get("open_brush"):
            return self.open_brush(run.owner, chat)
        if run.used_mask and response.type == "image":
            self.close_brush(run.owner, chat)
            return None
        return False

    def restore_brush(self, owner: str, chat: str) -> Painted | None:
        """After a reload or a switch: the chat's brush as it was, or the one its last reply asked for."""
        painted = self.board.brush(owner, chat)
        if painted is not None:
            return painted
        session_id = self.board.session_of(chat)
        if not session_id:
            return None
        rows = self.store.history(session_id, owner, limit=2)
        if rows and rows[-1].role == "assistant" and rows[-1].metadata.get("open_brush"):
            return self.open_brush(owner, chat)
        return None
