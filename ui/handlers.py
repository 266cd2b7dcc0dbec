"""Thin event handlers: turn Gradio inputs into pipeline calls and pipeline results into component values.

Two audiences share one `Handlers` object: the browser (owner = a random token kept in `gr.BrowserState`,
or the logged-in user name) and API scripts (owner = the token they pass). Every handler resolves the owner
first and only ever asks the store for that owner's data, so no endpoint can list, read or delete another
owner's sessions or images. Files handed back to Gradio are links to the stored PNGs under names derived from
the owner and the server secret; Gradio copies them into its cache and serves only those copies.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from core.errors import GatewayError, NotFound
from pipeline.identity import export_key, new_browser_token, owner_from_token, owner_from_user
from ui.render import parse_chip, render_history, render_response, user_message

log = logging.getLogger(__name__)


class Handlers:
    def __init__(self, settings, pipeline, store, registry, router=None):
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.registry = registry
        self.router = router
        self._export_dir = Path(tempfile.gettempdir()) / "gateway-export"
        self._export_key = export_key(settings.owner_secret)  # derived: the secret itself never names a file

    # ---- identity ------------------------------------------------------------------------------------
    def browser_owner(self, state: dict | None, request=None) -> tuple[str, dict]:
        state = dict(state or {})
        username = getattr(request, "username", None) if request is not None else None
        if username:
            return owner_from_user(username, self.settings.owner_secret), state
        if not state.get("token"):
            state["token"] = new_browser_token()
        return owner_from_token(state["token"], self.settings.owner_secret), state

    def api_owner(self, token: str, request=None) -> str:
        username = getattr(request, "username", None) if request is not None else None
        if username:
            return owner_from_user(username, self.settings.owner_secret)
        return owner_from_token(token, self.settings.owner_secret)

    # ---- files ---------------------------------------------------------------------------------------------
    def exportable(self, path, owner: str) -> str:
        """The file to hand to Gradio for `owner`: a hard link (or copy) of the stored PNG under a name derived
        from the owner and a secret. Gradio serves returned files at a URL made of the file's content hash and
        its name; the content hash is the public image id, so the name is what keeps another owner who learns
        an id from guessing the URL."""
        path = Path(path)
        name = hmac.new(self._export_key.encode(), f"{owner}:{path.name}".encode(), hashlib.sha256).hexdigest()[:40]
        target = self._export_dir / f"{name}{path.suffix}"
        if not target.exists():
            self._export_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except FileExistsError:
                pass
            except OSError:  # another file system: copy once
                tmp = target.with_suffix(".part")
                shutil.copyfile(path, tmp)
                os.replace(tmp, target)
        return str(target)

    # ---- browser: page load, sessions ---------------------------------------------------------------------
    def on_load(self, state, request=None):
        owner, state = self.browser_owner(state, request)
        session_id = state.get("session_id") or ""
        if session_id:
            try:
                self.store.get_session(session_id, owner)
            except NotFound:
                session_id = ""
        state["session_id"] = session_id
        return (state, self.history(owner, session_id), self.gallery(owner, session_id),
                self.session_choices(owner, session_id))

    def history(self, owner: str, session_id: str) -> list[dict]:
        if not session_id:
            return []
        rows = self.store.history(session_id, owner, limit=self.settings.history_page_size)
        return render_history(rows, lambda image: self.exportable(image.path, owner))

    def gallery(self, owner: str, session_id: str) -> list:
        if not session_id:
            return []
        return [(self.exportable(img.path, owner), f"{img.width}×{img.height}")
                for img in self.store.images_of_session(session_id, owner)]

    def session_choices(self, owner: str, session_id: str):
        sessions = self.store.list_sessions(owner)
        choices = [(f"{s.title or 'New chat'} ({s.message_count})", s.id) for s in sessions]
        return {"choices": choices, "value": session_id or None}

    def new_session(self, state, request=None):
        owner, state = self.browser_owner(state, request)
        state["session_id"] = ""
        return state, [], [], self.session_choices(owner, "")

    def switch_session(self, session_id, state, request=None):
        owner, state = self.browser_owner(state, request)
        try:
            self.store.get_session(session_id or "", owner)
            state["session_id"] = session_id
        except NotFound:
            state["session_id"] = ""
        sid = state["session_id"]
        return state, self.history(owner, sid), self.gallery(owner, sid)

    def delete_current(self, state, request=None):
        owner, state = self.browser_owner(state, request)
        if state.get("session_id"):
            self.store.delete_session(state["session_id"], owner)
        state["session_id"] = ""
        return state, [], [], self.session_choices(owner, "")

    # ---- browser: chat ---------------------------------------------------------------------------------------
    def chat(self, text: str, files: list, state, mask=None, context: dict | None = None, request=None, progress=None):
        """Run one message for the browser; returns (state, chat history, gallery, sessions, response)."""
        owner, state = self.browser_owner(state, request)
        context = dict(context or {})
        context["owner"] = owner
        if mask is not None:
            context["mask"] = mask
        if progress is not None:
            context["progress"] = progress
        context["cancel_event"] = threading.Event()
        response = self.pipeline.process_message(text, state.get("session_id") or "", files or [], context)
        if response.session_id:
            state["session_id"] = response.session_id
        sid = state.get("session_id") or ""
        history = self.history(owner, sid)
        if response.message_id is None:  # not stored (the input was refused): show it once, below the history
            refused = render_response(response, lambda image: self.exportable(image.path, owner))
            history = history + ([user_message(text, [])] if text else []) + refused
        return state, history, self.gallery(owner, sid), self.session_choices(owner, sid), response

    def chip(self, value, state, request=None, progress=None):
        message, context = parse_chip(value)
        return self.chat(message, [], state, context=context, request=request, progress=progress)

    # ---- API for scripts ---------------------------------------------------------------------------------------
    def api_chat(self, message, images, mask, session_id, owner, context, request=None, progress=None):
        try:
            owner_id = self.api_owner(owner, request)
        except GatewayError as exc:
            return _api_error(exc), []
        from pipeline.process import CONTEXT_KEYS

        context = {k: v for k, v in (context or {}).items() if k in CONTEXT_KEYS}
        context["owner"] = owner_id
        if mask:
            context["mask"] = _file_path(mask)
        if progress is not None:
            context["progress"] = progress
        paths = [_file_path(f) for f in (images or [])]
        response = self.pipeline.process_message(message or "", session_id or "", paths, context)
        out = response.to_dict()
        for img in out["data"]["images"]:
            img.pop("path", None)  # server paths stay on the server; the files come as the second output
        return out, [self.exportable(img.path, owner_id) for img in response.images]

    def api_list_sessions(self, owner, request=None):
        try:
            owner_id = self.api_owner(owner, request)
        except GatewayError as exc:
            return _api_error(exc)
        return [{"session_id": s.id, "title": s.title, "created_at": s.created_at, "updated_at": s.updated_at,
                 "message_count": s.message_count} for s in self.store.list_sessions(owner_id)]

    def api_get_session(self, session_id, owner, request=None):
        try:
            owner_id = self.api_owner(owner, request)
            rows = self.store.history(session_id or "", owner_id, limit=10**9)
        except GatewayError as exc:
            return _api_error(exc)
        return {"session_id": session_id, "messages": [
            {"message_id": r.id, "role": r.role, "content": r.content, "created_at": r.created_at,
             "metadata": r.metadata,
             "images": [{"id": i.id, "sha256": i.id, "width": i.width, "height": i.height, "mime": i.mime,
                         "parent_ids": i.parent_ids, "recipe": i.recipe} for i in r.images]} for r in rows]}

    def api_delete_session(self, session_id, owner, request=None):
        try:
            owner_id = self.api_owner(owner, request)
        except GatewayError as exc:
            return _api_error(exc)
        return {"deleted": self.store.delete_session(session_id or "", owner_id)}

    def api_get_image(self, image_id, owner, request=None):
        owner_id = self.api_owner(owner, request)
        row = self.store.get_image(image_id or "", owner_id)  # NotFound for anybody else's image
        return self.exportable(row.path, owner_id)

    def api_capabilities(self):
        from models import runtime

        out = {"capabilities": self.registry.describe()}
        if self.router is not None and hasattr(self.router, "describe"):
            out["router"] = self.router.describe()
        out["runtime"] = runtime.block(self.settings, self.registry)  # the start-up block: device, weights…
        return out


def _api_error(exc: GatewayError) -> dict:
    return {"type": "error", "message": exc.message, "error": exc.to_dict()}


def _file_path(f) -> str:
    if isinstance(f, dict):
        return f.get("path") or f.get("name")
    return getattr(f, "path", None) or getattr(f, "name", None) or str(f)
