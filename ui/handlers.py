"""Thin event handlers: turn Gradio inputs into pipeline calls and pipeline results into component values.

Two audiences share one `Handlers` object: the browser (owner = the Hugging Face account signed in on a Space,
else the logged-in user name, else a random token kept in `gr.BrowserState`) and API scripts (owner = the
token they pass). Every handler resolves the owner
first and only ever asks the store for that owner's data, so no endpoint can list, read or delete another
owner's sessions or images. Files handed back to Gradio are links to the stored PNGs under names derived from
the owner and the server secret, kept in this instance's export folder (inside Gradio's own cache, so Gradio
serves them where they are); deleting a session removes the owner's exports of the images it no longer has,
so no URL handed out for them keeps working. API inputs pass `pipeline.boundary.schema` (and `ui.api_inputs`) first:
a malformed value is an `invalid_input` reply naming the field, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from core.errors import GatewayError, InvalidInput, NotFound
from pipeline.boundary.identity import export_key, new_browser_token, owner_from_token, owner_from_user
from pipeline.run.titles import session_title
from pipeline.run.response import ERROR, Response
from pipeline.boundary.schema import check_context, check_id_text
from ui.api_inputs import InvalidFiles
from ui.render import render_history
from ui.throttle import MissThrottle, client_of

log = logging.getLogger(__name__)


class Handlers:
    def __init__(self, settings, pipeline, store, registry, router=None, export_dir=None):
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.registry = registry
        self.router = router
        self._export_dir = Path(export_dir) if export_dir else Path(settings.data_dir) / "exports"
        self._export_key = export_key(settings.owner_secret)  # derived: the secret itself never names a file
        # Painted strokes (restored into the editor on reload) sit beside the exports: this instance's own folder
        # that Gradio may serve, never a temp folder shared by every instance on the host.
        self.brush_dir = self._export_dir / "brush"
        self.throttle = MissThrottle()  # lookups by owner token or id that found nothing, per client

    @property
    def export_dir(self) -> Path:
        return self._export_dir

    # ---- identity ------------------------------------------------------------------------------------
    def browser_owner(self, state: dict | None, request=None, profile=None) -> tuple[str, dict]:
        """The owner for a browser: the Hugging Face account signed in with "Sign in with Hugging Face" (on a
        Space), else the user name of the app's own login, else the random token kept in the browser."""
        state = dict(state or {})
        hf_user = getattr(profile, "username", None) if profile is not None else None
        if isinstance(hf_user, str) and hf_user:
            return owner_from_user(f"hf:{hf_user}", self.settings.owner_secret), state
        username = signed_in_user(request)
        if username:
            return owner_from_user(username, self.settings.owner_secret), state
        if not state.get("token"):
            state["token"] = new_browser_token()
        return owner_from_token(state["token"], self.settings.owner_secret), state

    def api_owner(self, token: str, request=None) -> str:
        """The owner an API or MCP call acts for: the signed-in user (GATEWAY_AUTH, through the login cookie or
        HTTP Basic credentials the auth gate checked), else the caller's own token."""
        username = signed_in_user(request)
        if username:
            return owner_from_user(username, self.settings.owner_secret)
        return owner_from_token(token if isinstance(token, str) else "", self.settings.owner_secret)

    def _lookup(self, request, run, found=lambda result: True):
        """A lookup by owner token or id, throttled per client once it keeps finding nothing."""
        client = client_of(request)
        self.throttle.check(client)
        try:
            result = run()
        except NotFound:
            self.throttle.miss(client)
            raise
        if not found(result):
            self.throttle.miss(client)
        return result

    # ---- files ---------------------------------------------------------------------------------------------
    def exportable(self, path, owner: str) -> str:
        """The file to hand to Gradio for `owner`: a hard link (or copy) of the stored PNG under a name derived
        from the owner and a secret. Gradio serves returned files at a URL made of the file's content hash and
        its name; the content hash is the public image id, so the name is what keeps another owner who learns
        an id from guessing the URL."""
        path = Path(path)
        target = self._export_path(owner, path)
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

    def _export_path(self, owner: str, path: Path) -> Path:
        name = hmac.new(self._export_key.encode(), f"{owner}:{path.name}".encode(), hashlib.sha256).hexdigest()[:40]
        return self._export_dir / f"{name}{path.suffix}"

    def delete_session(self, session_id: str, owner: str) -> bool:
        """Delete the session and every exported copy of the images the owner no longer has anywhere."""
        try:
            images = self.store.images_of_session(session_id, owner)
        except NotFound:
            return False
        deleted = self.store.delete_session(session_id, owner)
        for image in images:
            try:
                self.store.get_image(image.id, owner)  # still in another of the owner's sessions: keep its URL
            except NotFound:
                self._export_path(owner, image.path).unlink(missing_ok=True)
        return deleted

    # ---- browser: what the page shows (the live chat flow is ui/live.py) ---------------------------------------
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
        choices = [(session_label(s.title, s.message_count, s.updated_at), s.id) for s in sessions]
        return {"choices": choices, "value": session_id or None}

    @staticmethod
    def pending_label(text: str, files=()) -> str:
        """A new chat in the list while its first message runs (it is stored once that message is)."""
        return f"{session_title(text, files)} · sending…"

    # ---- API for scripts ---------------------------------------------------------------------------------------
    def api_chat(self, message, images, mask, session_id, owner, context, request=None, progress=None):
        try:
            owner_id = self.api_owner(owner, request)
            public = check_context(context)  # typed before anything else: invalid_input names the field
            paths = [_file_path(f) for f in _files(images, "images")]
            mask_path = _file_path(_files(mask, "mask")[0]) if mask else None
        except GatewayError as exc:
            return _api_reply(exc), []
        try:
            public["owner"] = owner_id
            public.update(forwarded_credentials(request))
            if mask_path:
                public["mask"] = mask_path
            if progress is not None:
                public["progress"] = progress
            response = self.pipeline.process_message(message or "", session_id or "", paths, public)
            out = response.to_dict()
            for img in out["data"]["images"]:
                img.pop("path", None)  # server paths stay on the server; the files come as the second output
            return out, [self.exportable(img.path, owner_id) for img in response.images]
        except Exception:  # noqa: BLE001 - a coded reply, never a traceback, reaches the caller
            return _api_reply(internal_error("chat")), []

    def api_list_sessions(self, owner, request=None):
        def run():
            owner_id = self.api_owner(owner, request)
            return [{"session_id": s.id, "title": s.title, "created_at": s.created_at, "updated_at": s.updated_at,
                     "message_count": s.message_count} for s in self.store.list_sessions(owner_id)]
        return _guarded("list_sessions", lambda: self._lookup(request, run, found=bool))

    def api_get_session(self, session_id, owner, request=None):
        def run():
            owner_id = self.api_owner(owner, request)
            sid = check_id_text(session_id, "session_id")
            rows = self._lookup(request, lambda: self.store.history(sid, owner_id, limit=10**9))
            return {"session_id": sid, "messages": [
                {"message_id": r.id, "role": r.role, "content": r.content, "created_at": r.created_at,
                 "metadata": r.metadata,
                 "images": [{"id": i.id, "sha256": i.id, "width": i.width, "height": i.height, "mime": i.mime,
                             "parent_ids": i.parent_ids, "recipe": i.recipe} for i in r.images]} for r in rows]}
        return _guarded("get_session", run)

    def api_delete_session(self, session_id, owner, request=None):
        def run():
            owner_id = self.api_owner(owner, request)
            sid = check_id_text(session_id, "session_id")
            return {"deleted": self._lookup(request, lambda: self.delete_session(sid, owner_id), found=bool)}
        return _guarded("delete_session", run)

    def api_get_image(self, image_id, owner, request=None):
        owner_id = self.api_owner(owner, request)
        image_id = check_id_text(image_id, "image_id")
        row = self._lookup(request, lambda: self.store.get_image(image_id, owner_id))  # NotFound for anybody else's
        return self.exportable(row.path, owner_id)

    def api_capabilities(self):
        from pipeline.assemble import describe

        return _without_server_paths(describe(self.settings, self.registry, self.router))


def signed_in_user(request) -> str:
    """The user the app's own login (GATEWAY_AUTH) vouches for: Gradio's login cookie, or the HTTP Basic
    credentials the auth gate checked (ui/gate.py) on a call that did not pass through Gradio's queue."""
    if request is None:
        return ""
    username = getattr(request, "username", None)
    if not username:
        try:
            username = getattr(getattr(request, "state", None), "gateway_user", None)
        except Exception:  # noqa: BLE001 - a request without Starlette state
            username = None
    return username if isinstance(username, str) else ""


def forwarded_credentials(request) -> dict:
    """The caller's ZeroGPU quota token (`x-ip-token`, set by Hugging Face in front of a Space), which a remote
    worker on ZeroGPU bills the run to; passed to the pipeline as a credential, never stored."""
    headers = getattr(request, "headers", None)
    token = headers.get("x-ip-token") if headers is not None and hasattr(headers, "get") else None
    return {"x_ip_token": token} if token else {}


def session_label(title: str, message_count: int, updated_at: float | None = None, now: float | None = None) -> str:
    """A session in the sidebar: its title, how many messages it holds, and when it last changed (the time today,
    else the date), so two chats that began with the same words can be told apart."""
    n = int(message_count or 0)
    label = f"{title or 'New chat'} · {n} message{'s' if n != 1 else ''}"
    if updated_at:
        now = time.time() if now is None else now
        local, today = time.localtime(updated_at), time.localtime(now)
        same_day = local[:3] == today[:3]
        label += " · " + (time.strftime("%H:%M", local) if same_day else time.strftime("%d %b", local))
    return label


def _api_error(exc: GatewayError) -> dict:
    return {"type": "error", "message": exc.message, "error": exc.to_dict()}


def _api_reply(exc: GatewayError) -> dict:
    """A chat error in the shape of every chat reply (nothing was stored: no session, no message id)."""
    return Response(session_id="", message_id=None, type=ERROR, message=exc.message, error=exc.to_dict(),
                    suggestions=list(exc.suggestions)).to_dict()


def internal_error(endpoint: str) -> GatewayError:
    error_id = uuid.uuid4().hex[:12]
    log.exception("error %s in the %s endpoint", error_id, endpoint)
    error = GatewayError(f"Something went wrong on our side (error id {error_id}); please try again.")
    error.details["error_id"] = error_id
    return error


def _guarded(endpoint: str, run):
    try:
        return run()
    except GatewayError as exc:
        return _api_error(exc)
    except Exception:  # noqa: BLE001 - a coded reply, never a traceback, reaches the caller
        return _api_error(internal_error(endpoint))


def _files(value, field: str) -> list:
    if isinstance(value, InvalidFiles):
        raise InvalidInput(f"`{value.field}` {value.problem}.", details={"field": value.field})
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# An absolute path on this server (/home/…, /work/…/file.jsonl), not a URL and not `owner/repo/file`.
_SERVER_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]+")


def _without_server_paths(value):
    """The capabilities listing with absolute server paths cut down to their file name."""
    if isinstance(value, str):
        return _SERVER_PATH.sub(lambda m: m.group(0).rsplit("/", 1)[-1], value)
    if isinstance(value, list):
        return [_without_server_paths(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_server_paths(v) for k, v in value.items()}
    return value


def _file_path(f) -> str:
    if isinstance(f, dict):
        return f.get("path") or f.get("name")
    return getattr(f, "path", None) or getattr(f, "name", None) or str(f)
