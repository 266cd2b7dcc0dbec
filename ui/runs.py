"""Chat requests in flight for the browser: echoed at once, run in order per chat, stoppable, watched by any tab.

A message is registered here the moment it is sent (`RunBoard.add`) and echoed from here, so the person sees it
within a fraction of a second whatever the queue is doing. `start` runs it on a worker thread, after the earlier
messages of the same chat (a second message waits its turn, visibly); progress callbacks update the run, which
the page renders inside the reply bubble. `stop` sets the run's cancel event: the page says "Stopped" at once and
the Gradio event ends, freeing its queue slot; the pipeline thread winds down at the backend's next check and
keeps nothing. A new chat has a draft key until its first message is sent (then the session is created at once,
so it shows in the chat list while its first request runs). Which chat each tab shows is tracked by Gradio's session hash, so a
run only paints the tab that looks at its chat. The brush's painted strokes are kept per chat as well, so a
reload shows the canvas as it was. Pure Python: no gradio import.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

WAITING, RUNNING, STOPPING, DONE, STOPPED = "waiting", "running", "stopping", "done", "stopped"
KEEP_FINISHED_S = 600.0  # a finished run that was not stored (a refused input) is shown this long
_POLL_S = 0.2


def new_draft() -> str:
    return "draft:" + uuid.uuid4().hex


@dataclass
class Run:
    owner: str
    tab: str  # Gradio session hash of the tab that sent it
    chat: str  # the session id
    text: str
    files: list = field(default_factory=list)  # uploaded paths for the pipeline
    context: dict = field(default_factory=dict)  # mask, image_ids, force_intent… (the pipeline's context)
    echo_images: list = field(default_factory=list)  # what the user's bubble shows
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    state: str = WAITING
    fraction: float | None = None
    stage: str = ""
    started: float | None = None
    finished_at: float | None = None
    response: Any = None
    used_mask: bool = False
    launched: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def in_flight(self) -> bool:
        return self.state in (WAITING, RUNNING, STOPPING)

    def progress(self, fraction: float, description: str = "") -> None:
        self.fraction = None if fraction is None else max(0.0, min(1.0, float(fraction)))
        if description:
            self.stage = description


@dataclass
class Painted:
    """The brush on one chat: the image it shows and the strokes painted on it so far."""
    image_id: str
    image_path: str
    strokes: Any = None  # PIL RGBA layer, or None before the first stroke
    strokes_path: str | None = None  # the same layer as a PNG, to restore the canvas after a reload
    note: str = ""
    size: int = 24  # brush diameter in image pixels, fitted to the image


class RunBoard:
    def __init__(self):
        self._lock = threading.RLock()
        self._runs: dict[str, Run] = {}
        self._chats: dict[tuple[str, str], list[str]] = {}
        self._views: dict[str, tuple[str, str]] = {}
        self._brushes: dict[tuple[str, str], Painted] = {}

    # ---- chats and what each tab shows ----------------------------------------------------------------------
    @staticmethod
    def session_of(chat: str) -> str:
        """The stored session id of a chat key ("" for a new chat that has no message yet)."""
        return "" if chat.startswith("draft:") else chat

    def set_view(self, tab: str, owner: str, chat: str) -> None:
        with self._lock:
            self._views[tab] = (owner, chat)

    def view(self, tab: str) -> tuple[str, str] | None:
        return self._views.get(tab)

    def viewing(self, tab: str, run: Run) -> bool:
        current = self._views.get(tab)
        return current is not None and current[0] == run.owner and current[1] == run.chat

    # ---- runs ---------------------------------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        with self._lock:
            self._prune()
            self._runs[run.ticket] = run
            self._chats.setdefault((run.owner, run.chat), []).append(run.ticket)
        return run

    def get(self, ticket: str) -> Run | None:
        return self._runs.get(ticket or "")

    def runs_in(self, owner: str, chat: str) -> list[Run]:
        """The chat's runs in the order they were sent (in flight, and recently finished ones)."""
        with self._lock:
            tickets = list(self._chats.get((owner, chat), []))
            return sorted((self._runs[t] for t in tickets if t in self._runs), key=lambda r: r.created)

    def in_flight(self, owner: str, chat: str) -> list[Run]:
        return [r for r in self.runs_in(owner, chat) if r.in_flight]

    def start(self, run: Run, work: Callable[[Run, str], Any]) -> threading.Thread:
        """Run `work(run, session_id)` on a thread once the chat's earlier runs have finished."""
        thread = threading.Thread(target=self._work, args=(run, work), name=f"chat-run-{run.ticket[:8]}", daemon=True)
        thread.start()
        return thread

    def stop(self, owner: str, chat: str) -> list[Run]:
        """Stop every run in flight in this chat; returns them."""
        stopped = []
        for run in self.in_flight(owner, chat):
            run.cancel.set()
            with self._lock:
                if run.state == RUNNING:
                    run.state = STOPPING
                elif run.state == WAITING:
                    run.state = STOPPED
            stopped.append(run)
        return stopped

    def _work(self, run: Run, work) -> None:
        earlier = [r for r in self.runs_in(run.owner, run.chat) if r.created < run.created and r is not run]
        for other in earlier:
            while not other.finished.wait(_POLL_S):
                if run.cancel.is_set():
                    return self._finish(run, None)
            if run.cancel.is_set():
                return self._finish(run, None)
        if run.cancel.is_set():
            return self._finish(run, None)
        with self._lock:
            run.state, run.started = RUNNING, time.time()
        response = None
        try:
            response = work(run, run.chat)
        finally:
            self._finish(run, response)

    def _finish(self, run: Run, response) -> None:
        with self._lock:
            run.response = response
            run.state = STOPPED if run.cancel.is_set() else DONE
            run.finished_at = time.time()
        run.finished.set()

    def _prune(self) -> None:
        now = time.time()
        for ticket, run in list(self._runs.items()):
            if not run.in_flight and run.finished_at and now - run.finished_at > KEEP_FINISHED_S:
                del self._runs[ticket]
        for key, tickets in list(self._chats.items()):
            kept = [t for t in tickets if t in self._runs]
            if kept:
                self._chats[key] = kept
            else:
                del self._chats[key]

    # ---- the brush ----------------------------------------------------------------------------------------
    def open_brush(self, owner: str, chat: str, painted: Painted) -> None:
        with self._lock:
            self._brushes[(owner, chat)] = painted

    def brush(self, owner: str, chat: str) -> Painted | None:
        return self._brushes.get((owner, chat))

    def close_brush(self, owner: str, chat: str) -> None:
        with self._lock:
            self._brushes.pop((owner, chat), None)
