"""Chat requests in flight for the browser: echoed at once, run in order per chat, stoppable, watched by any tab.

A message is registered here the moment it is sent (`RunBoard.add`) and echoed from here, so the person sees it
within a fraction of a second whatever the queue is doing. The page's second event (`start`) runs it on a
worker thread, after the earlier messages of the same chat (a second message waits its turn, visibly). Sending
and running are two HTTP requests that anybody can make, or abandon half-way, so the board bounds what they
can leave behind: a run whose start never comes expires after `LAUNCH_WAIT_S` and is dropped with nothing
stored; a run waits only for a *live* predecessor (started, or still within its own launch wait); each owner
may have `PER_OWNER` runs in flight and the whole board `capacity`; a janitor thread drops expired and old
runs so their files and masks are freed. A new chat is a draft key until its first message is stored by the
pipeline (no session exists before that, so an abandoned or refused first message leaves no empty chat);
`resolve` then maps the draft to its session for every tab. Progress callbacks update the run, which the page
renders inside the reply bubble; `stop` sets the run's cancel event. Which chat each tab shows is tracked by
Gradio's session hash, so a run only paints the tab that looks at its chat. The brush's painted strokes are
kept per chat as well, so a reload shows the canvas as it was. Pure Python: no gradio import.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

WAITING, RUNNING, STOPPING, DONE, STOPPED = "waiting", "running", "stopping", "done", "stopped"
KEEP_FINISHED_S = 600.0  # a finished run that was not stored (a refused input) is shown this long
KEEP_DRAFT_S = 3600.0  # how long a draft key keeps pointing at the session its first message created
LAUNCH_WAIT_S = 15.0  # a sent message whose run event does not arrive within this is dropped
PER_OWNER = 4  # runs in flight per owner (waiting or running)
MAX_VIEWS = 10_000  # tabs whose current chat is remembered (the oldest are forgotten first)
MAX_BRUSHES = 1_000  # open brushes kept (with their strokes), the least recently used dropped first
_POLL_S = 0.2
_DRAFT = re.compile(r"draft:[0-9a-f]{32}")


def new_draft() -> str:
    return "draft:" + uuid.uuid4().hex


def is_draft(chat: str) -> bool:
    return bool(_DRAFT.fullmatch(chat or ""))


@dataclass
class Run:
    owner: str
    tab: str  # Gradio session hash of the tab that sent it
    chat: str  # the session id, or the draft key of a new chat
    text: str
    files: list = field(default_factory=list)  # uploaded paths for the pipeline
    context: dict = field(default_factory=dict)  # mask, image_ids, force_intent… (the pipeline's context)
    echo_images: list = field(default_factory=list)  # what the user's bubble shows
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.monotonic)
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

    def abandoned(self, now: float | None = None) -> bool:
        """Sent, but its run event never came: nobody will start it."""
        now = time.monotonic() if now is None else now
        return not self.launched and self.state == WAITING and now - self.created > LAUNCH_WAIT_S

    @property
    def live(self) -> bool:
        """Worth waiting for: in flight and started, or still within its launch wait."""
        return self.in_flight and not self.abandoned()

    def progress(self, fraction: float, description: str = "") -> None:
        self.fraction = None if fraction is None else max(0.0, min(1.0, float(fraction)))
        if description:
            self.stage = description

    def release(self) -> None:
        """Drop what the run holds (uploaded paths, a painted mask) once nobody will run it."""
        self.files, self.context, self.echo_images = [], {}, []


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
    def __init__(self, capacity: int = 64, per_owner: int = PER_OWNER):
        self.capacity, self.per_owner = capacity, per_owner
        self._lock = threading.RLock()
        self._runs: dict[str, Run] = {}
        self._chats: dict[tuple[str, str], list[str]] = {}
        self._views: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._brushes: OrderedDict[tuple[str, str], Painted] = OrderedDict()
        self._drafts: dict[tuple[str, str], tuple[str, float]] = {}  # (owner, draft) -> (session id, when)
        self._janitor: threading.Thread | None = None
        self._closed = threading.Event()

    # ---- chats and what each tab shows ----------------------------------------------------------------------
    def session_of(self, chat: str, owner: str | None = None) -> str:
        """The stored session id of a chat key: the key itself, or the session a draft's first message created
        ("" for a new chat whose first message is not stored yet)."""
        if not chat.startswith("draft:"):
            return chat
        if owner is None:
            return ""
        found = self._drafts.get((owner, chat))
        return found[0] if found else ""

    def pending_drafts(self, owner: str) -> list[tuple[str, Run]]:
        """(draft key, first run) of this owner's new chats whose first message is still in flight."""
        with self._lock:
            out = []
            for (run_owner, chat), tickets in self._chats.items():
                if run_owner != owner or not chat.startswith("draft:") or self.session_of(chat, owner):
                    continue
                runs = [self._runs[t] for t in tickets if t in self._runs]
                if any(r.live for r in runs):
                    out.append((chat, min(runs, key=lambda r: r.created)))
            return out

    def set_view(self, tab: str, owner: str, chat: str) -> None:
        with self._lock:
            self._views[tab] = (owner, chat)
            self._views.move_to_end(tab)
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)

    def view(self, tab: str) -> tuple[str, str] | None:
        return self._views.get(tab)

    def viewing(self, tab: str, run: Run) -> bool:
        current = self._views.get(tab)
        return current is not None and current[0] == run.owner and current[1] == run.chat

    # ---- runs ---------------------------------------------------------------------------------------------
    def refusal(self, owner: str) -> str:
        """Why a new run of this owner cannot be taken now ("" when it can)."""
        with self._lock:
            self._prune()
            mine = sum(1 for r in self._runs.values() if r.owner == owner and r.live)
            if mine >= self.per_owner:
                return (f"You already have {mine} requests waiting or running; please wait for one of them to "
                        "finish (or press Stop) before sending more.")
            if sum(1 for r in self._runs.values() if r.live) >= self.capacity:
                return "The server is busy with other people's requests right now; please try again in a minute."
        return ""

    def add(self, run: Run) -> Run:
        with self._lock:
            self._prune()
            self._runs[run.ticket] = run
            self._chats.setdefault((run.owner, run.chat), []).append(run.ticket)
            self._start_janitor()
        return run

    def get(self, ticket: str) -> Run | None:
        return self._runs.get(ticket or "")

    def runs_in(self, owner: str, chat: str) -> list[Run]:
        """The chat's runs in the order they were sent (in flight, and recently finished ones)."""
        with self._lock:
            tickets = list(self._chats.get((owner, chat), []))
            return sorted((self._runs[t] for t in tickets if t in self._runs), key=lambda r: r.created)

    def in_flight(self, owner: str, chat: str) -> list[Run]:
        return [r for r in self.runs_in(owner, chat) if r.live]

    def start(self, run: Run, work: Callable[[Run, str], Any]) -> threading.Thread | None:
        """Run `work(run, session_id)` on a thread once the chat's earlier live runs have finished. A run that
        already expired (its start came too late) is not started."""
        with self._lock:
            if run.launched or run.state != WAITING or run.abandoned() or run.ticket not in self._runs:
                return None
            run.launched = True
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
                    run.finished_at = time.monotonic()
                    if not run.launched:
                        run.release()
                        run.finished.set()
            stopped.append(run)
        return stopped

    def _work(self, run: Run, work) -> None:
        for other in self.runs_in(run.owner, run.chat):
            if other is run or other.created >= run.created:
                continue
            while other.live and not other.finished.wait(_POLL_S):
                if run.cancel.is_set():
                    return self._finish(run, None)
            if run.cancel.is_set():
                return self._finish(run, None)
        if run.cancel.is_set():
            return self._finish(run, None)
        with self._lock:
            run.state, run.started = RUNNING, time.monotonic()
        response = None
        try:
            response = work(run, self.session_of(run.chat, run.owner))
        finally:
            self._finish(run, response)

    def _finish(self, run: Run, response) -> None:
        with self._lock:
            run.response = response
            run.state = STOPPED if run.cancel.is_set() else DONE
            run.finished_at = time.monotonic()
            session_id = getattr(response, "session_id", "") or ""
            if run.chat.startswith("draft:") and session_id and getattr(response, "message_id", None) is not None:
                self.promote(run.owner, run.chat, session_id)
            run.release()
        run.finished.set()

    def promote(self, owner: str, draft: str, session_id: str) -> None:
        """The draft's first message is stored: from now on the chat is that session, for its runs, for the
        tabs that show it and for every tab whose state still names the draft."""
        if not draft.startswith("draft:"):
            return
        with self._lock:
            self._promote(owner, draft, session_id)

    def _promote(self, owner: str, draft: str, session_id: str) -> None:
        self._drafts[(owner, draft)] = (session_id, time.monotonic())
        tickets = self._chats.pop((owner, draft), [])
        for ticket in tickets:
            if ticket in self._runs:
                self._runs[ticket].chat = session_id
        self._chats.setdefault((owner, session_id), []).extend(tickets)
        for tab, view in self._views.items():
            if view == (owner, draft):
                self._views[tab] = (owner, session_id)
        if (owner, draft) in self._brushes:
            self._brushes[(owner, session_id)] = self._brushes.pop((owner, draft))

    # ---- clean-up ---------------------------------------------------------------------------------------------
    def _prune(self) -> None:
        now = time.monotonic()
        with self._lock:
            for ticket, run in list(self._runs.items()):
                if run.abandoned(now):
                    run.state, run.finished_at = STOPPED, now
                    run.release()
                    run.finished.set()
                    del self._runs[ticket]  # nothing to show: it never ran
                elif not run.in_flight and run.finished_at and now - run.finished_at > KEEP_FINISHED_S:
                    del self._runs[ticket]
            for key, tickets in list(self._chats.items()):
                kept = [t for t in tickets if t in self._runs]
                if kept:
                    self._chats[key] = kept
                else:
                    del self._chats[key]
            for key, (_session, when) in list(self._drafts.items()):
                if now - when > KEEP_DRAFT_S and key not in self._chats:
                    del self._drafts[key]

    def _start_janitor(self) -> None:
        if self._janitor is None or not self._janitor.is_alive():
            self._janitor = threading.Thread(target=self._sweep, name="run-board-janitor", daemon=True)
            self._janitor.start()

    def _sweep(self) -> None:
        while not self._closed.wait(1.0):
            self._prune()

    def close(self) -> None:
        self._closed.set()

    def counts(self) -> dict:
        with self._lock:
            return {"runs": len(self._runs), "live": sum(1 for r in self._runs.values() if r.live),
                    "chats": len(self._chats), "drafts": len(self._drafts)}

    # ---- the brush ----------------------------------------------------------------------------------------
    def open_brush(self, owner: str, chat: str, painted: Painted) -> None:
        with self._lock:
            self._brushes[(owner, chat)] = painted
            self._brushes.move_to_end((owner, chat))
            while len(self._brushes) > MAX_BRUSHES:
                self._brushes.popitem(last=False)

    def brush(self, owner: str, chat: str) -> Painted | None:
        return self._brushes.get((owner, chat))

    def close_brush(self, owner: str, chat: str) -> None:
        with self._lock:
            self._brushes.pop((owner, chat), None)
