"""The browser's chat, live: send (echo at once), run (progress in the reply bubble), stop, follow, and the brush.

`LiveChat` sits between the Gradio events (ui/events.py) and the pipeline: it registers a message on the
`RunBoard` and renders the chat from the store plus the runs in flight, so every tab that shows a chat — the
one that sent the message, another tab, the same tab after a reload — draws the same thing. Everything the
browser sends is treated as untrusted: the state is reduced to known shapes (ui/browser_inputs.py), files must
be Gradio uploads, chips are opaque ids whose context the server reads from its own copy (ui/chips.py), and a
message that cannot be taken (too many in flight) is answered with its reason. A new chat stays a draft until
the pipeline stores its first message, so nothing is persisted for a message that was refused or never ran. It
returns plain values; layout.py turns them into component updates. The brush is kept here too: which image it
shows, the strokes painted so far (saved as a PNG so a reload restores them) and the brush size that fits the
image.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from core.errors import GatewayError, NotFound, ServerBusy
from pipeline.boundary import schema
from pipeline.boundary.identity import export_key, new_browser_token
from pipeline.run.response import ERROR, Response
from ui.browser_inputs import clean_state, uploaded_files
from ui.chips import BRUSH, ChipIds, message_id_of, ticket_of
from ui.handlers import forwarded_credentials
from ui.render import options_for, render_history, render_response, response_metadata, run_messages
from ui.runs import DONE, RUNNING, STOPPED, STOPPING, Painted, Run, RunBoard, is_draft, new_draft

log = logging.getLogger(__name__)

BRUSH_FRACTION = 0.025  # default brush diameter as a share of the image's shorter side
ERASE_PAINTED = "erase what I painted"


def brush_size(width: int, height: int) -> int:
    """A brush that outlines an object without covering its neighbours: 2.5% of the shorter side, 4–64 px."""
    return int(max(4, min(64, round(min(width, height) * BRUSH_FRACTION))))


class LiveChat:
    def __init__(self, handlers, board: RunBoard | None = None, upload_folder=None):
        self.handlers = handlers
        self.store = handlers.store
        self.pipeline = handlers.pipeline
        settings = handlers.settings
        self.board = board or RunBoard(capacity=settings.queue_max_size)
        self.chips = ChipIds(settings.owner_secret)
        self.upload_folder = upload_folder
        self._brush_dir = handlers.brush_dir  # this instance's, never a shared temp dir

    # ---- identity and the chat a tab shows ---------------------------------------------------------------------
    def identity(self, state, request=None, profile=None) -> tuple[str, dict]:
        return self.handlers.browser_owner(clean_state(state, new_browser_token), request, profile)

    @staticmethod
    def tab(request) -> str:
        tab = getattr(request, "session_hash", None)
        return tab if isinstance(tab, str) and 0 < len(tab) <= 64 else "no-tab"

    def chat_key(self, state: dict, owner: str) -> str:
        """The chat this browser state points at: its session, else its draft (a new chat with no message yet).
        A draft whose first message has been stored becomes that session."""
        draft = state.get("draft") or ""
        if draft and not state.get("session_id"):
            resolved = self.board.session_of(draft, owner)
            if resolved:
                state["session_id"] = resolved
                state.pop("draft", None)
        if state.get("session_id"):
            return state["session_id"]
        if not draft:
            state["draft"] = draft = new_draft()
        return draft

    def look_at(self, state: dict, owner: str, request) -> str:
        chat = self.chat_key(state, owner)
        if not chat.startswith("draft:"):
            try:
                self.store.get_session(chat, owner)
            except NotFound:
                state["session_id"] = ""
                state.pop("draft", None)
                chat = self.chat_key(state, owner)
        self.board.set_view(self.tab(request), owner, chat)
        return chat

    def session_of(self, owner: str, chat: str) -> str:
        return self.board.session_of(chat, owner)

    # ---- what a tab shows ---------------------------------------------------------------------------------------
    def render(self, owner: str, chat: str) -> list[dict]:
        session_id = self.session_of(owner, chat)
        runs = self.board.runs_in(owner, chat)
        active = [r for r in runs if r.state in (RUNNING, STOPPING)]
        history = []
        if session_id:
            try:
                rows = self.store.history(session_id, owner, limit=self.handlers.settings.history_page_size)
            except NotFound:
                rows = []
            history = render_history(rows, self._path_of(owner), extra_options=self._ui_chips,
                                     drop_trailing_user=bool(active),
                                     chip_id=lambda row, slot: self.chips.for_message(owner, row.id, slot))
        for run in runs:
            if run.in_flight:
                history += run_messages(run)
            elif run.state == STOPPED and run.response is None:
                history += run_messages(run)  # stopped before it started: shown until it ages out
            elif run.state == DONE and run.response is not None and run.response.message_id is None:
                history += run_messages(run)[:-1] + render_response(
                    run.response, self._path_of(owner),
                    chip_id=lambda slot, run=run: self.chips.for_run(owner, run.ticket, slot))
        return history

    def _path_of(self, owner: str):
        return lambda image: self.handlers.exportable(image.path, owner)

    def gallery(self, owner: str, chat: str) -> list:
        session_id = self.session_of(owner, chat)
        try:
            return self.handlers.gallery(owner, session_id) if session_id else []
        except NotFound:
            return []

    def sessions(self, owner: str, chat: str) -> dict:
        choices = self.handlers.session_choices(owner, self.session_of(owner, chat) or chat)
        pending = [(self.handlers.pending_label(run.text, run.files), draft)
                   for draft, run in self.board.pending_drafts(owner)]
        choices["choices"] = pending + choices["choices"]
        return choices

    def busy(self, owner: str, chat: str) -> bool:
        """Whether the chat has a run that Stop can still end (a stopped run winding down does not count)."""
        return any(not r.cancel.is_set() for r in self.board.in_flight(owner, chat))

    def _ui_chips(self, row) -> list[dict]:
        """"Erase by painting" under the last reply that has an image: opens the brush on that image — unless the
        reply's own chips already hold the brush chip ("Paint it instead", see pipeline/run/suggest.py)."""
        if self._brush_image(row) is None or "object_removal" not in self.handlers.registry.available_names():
            return []
        if any((chip.get("context") or {}).get("ui") == "brush" for chip in (row.metadata or {}).get("chips") or []):
            return []
        return [{"label": "Erase by painting", "slot": BRUSH}]

    @staticmethod
    def _brush_image(row):
        if not row.images:
            return None
        return next((i for i in row.images if (i.recipe or {}).get("output") != "mask"), row.images[0])

    # ---- chips ------------------------------------------------------------------------------------------------
    def chip(self, owner: str, value) -> tuple[str, str | dict] | None:
        """What a clicked chip does, read from the server's own copy: ("brush", image id) to open the brush on an
        image, ("send", {message, context}) to send a message, or None for anything that is not a chip this
        server gave this owner."""
        parsed = self.chips.parse(owner, value)
        if parsed is None:
            return None
        ref, slot = parsed
        if (message_id := message_id_of(ref)) is not None:
            try:
                row = self.store.message(message_id, owner)
            except NotFound:
                return None
            if row.role != "assistant":
                return None
            if slot == BRUSH:
                image = self._brush_image(row)
                return ("brush", image.id) if image is not None else None
            chips = options_for(row.metadata)
        else:
            run = self.board.get(ticket_of(ref) or "")
            if run is None or run.owner != owner or run.response is None:
                return None
            chips = options_for(response_metadata(run.response))
        index = int(slot) if slot.isdigit() else -1
        if not 0 <= index < len(chips):
            return None
        context = chips[index]["context"]
        if context.get("ui") == "brush":  # the pipeline's own brush chip: open the brush on its image
            image_id = context.get("image_id")
            return ("brush", image_id) if isinstance(image_id, str) else None
        return "send", {"message": chips[index]["message"], "context": context}

    # ---- sending ----------------------------------------------------------------------------------------------
    def send(self, text, files, state: dict, owner: str, request, context: dict | None = None,
             credentials: dict | None = None, trusted_files: bool = False) -> Run | None:
        """Register a message and return its run (None when there is nothing to send). `files` must be Gradio
        uploads (the server's own example images pass `trusted_files`); `context` is checked by the API schema;
        `credentials` (the signed-in person's Hugging Face token, the caller's ZeroGPU token) go to the
        pipeline, never to the store."""
        text = text if isinstance(text, str) else ""
        text = text.strip()
        files = [str(f) for f in files or [] if f] if trusted_files else uploaded_files(
            files, self.upload_folder, never_under=[self.handlers.export_dir])
        chat = self.look_at(state, owner, request)
        try:
            context = schema.check_context(dict(context or {}))
        except GatewayError as exc:
            return self._refused(owner, request, chat, text, exc)
        context.update(forwarded_credentials(request))
        context.update({k: v for k, v in (credentials or {}).items() if isinstance(v, str) and v})
        painted = self.board.brush(owner, chat)
        used_mask = False
        if painted is not None and painted.strokes is not None:
            context["mask"] = painted.strokes  # what the person painted goes with the next message
            context.setdefault("image_ids", [painted.image_id])
            used_mask = True
        if not text and not files and not context.get("image_ids"):
            return None
        refusal = self.board.refusal(owner)
        if refusal:
            return self._refused(owner, request, chat, text, ServerBusy(refusal, suggestions=["Wait a moment."]))
        echo = list(files) + self._paths_of(context.get("image_ids") or [], owner)
        run = Run(owner=owner, tab=self.tab(request), chat=chat, text=text, files=files, context=context,
                  echo_images=echo, used_mask=used_mask)
        return self.board.add(run)

    def _refused(self, owner, request, chat, text, exc: GatewayError) -> Run:
        """A message that cannot be taken: shown in the chat with its reason, like any reply; nothing stored."""
        response = Response(session_id="", message_id=None, type=ERROR, message=exc.message, error=exc.to_dict(),
                            suggestions=list(exc.suggestions))
        run = Run(owner=owner, tab=self.tab(request), chat=chat, text=text[:500], state=DONE, response=response,
                  launched=True)
        run.finished_at = run.created
        run.finished.set()
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
        self.board.start(run, self._work)

    def _work(self, run: Run, session_id: str):
        context = dict(run.context)
        context.update(owner=run.owner, progress=run.progress, cancel_event=run.cancel,
                       on_session=lambda session: self.board.promote(run.owner, run.chat, session))
        return self.pipeline.process_message(run.text, session_id, list(run.files), context)

    def stop(self, state: dict, owner: str, request) -> list[Run]:
        return self.board.stop(owner, self.look_at(state, owner, request))

    # ---- sessions ---------------------------------------------------------------------------------------------
    def new_chat(self, state: dict, owner: str, request) -> str:
        state["session_id"] = ""
        state["draft"] = new_draft()
        return self.look_at(state, owner, request)

    def switch(self, chat, state: dict, owner: str, request) -> str:
        """Show another chat: a stored session of this owner, or one of their new chats still in flight."""
        chat = chat if isinstance(chat, str) else ""
        if is_draft(chat) and any(draft == chat for draft, _ in self.board.pending_drafts(owner)):
            state["session_id"], state["draft"] = "", chat
        elif schema.is_session_id(chat):
            state["session_id"] = chat
            state.pop("draft", None)
        return self.look_at(state, owner, request)

    def delete(self, state: dict, owner: str, request) -> str:
        chat = self.look_at(state, owner, request)
        session_id = self.session_of(owner, chat)
        if session_id:
            self.board.stop(owner, chat)
            self.handlers.delete_session(session_id, owner)  # also withdraws the image URLs handed out for it
            self.close_brush(owner, chat)
        return self.new_chat(state, owner, request)

    # ---- the brush --------------------------------------------------------------------------------------------
    def open_brush(self, owner: str, chat: str, image_id: str | None = None, note: str = "") -> Painted | None:
        session_id = self.session_of(owner, chat)
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
        chat = run.chat
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
        session_id = self.session_of(owner, chat)
        if not session_id:
            return None
        try:
            rows = self.store.history(session_id, owner, limit=2)
        except NotFound:
            return None
        if rows and rows[-1].role == "assistant" and rows[-1].metadata.get("open_brush"):
            return self.open_brush(owner, chat)
        return None
