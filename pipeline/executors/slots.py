"""`ModelSlots`: a fair, bounded gate in front of model runs, so cheap work never waits behind a model.

Gradio runs many requests at once; only the runs that use a model (GPU memory, a whole CPU core) pass through
this gate, at most `slots` at a time. The next run is chosen fairly across owners, in rounds: an owner's first
outstanding run is in the current round, their second in the next, and so on (start-time fair queueing), with
arrival order inside a round — so one owner's second long upscale queues behind everybody else's first. A request waiting here reports its
place in the queue through its progress callback and gives up at once when its cancel event is set. The wait
is bounded: with `max_waiting` runs already waiting, the next one is refused at once (`busy`) instead of
occupying one more of the web server's request slots, which cheap work needs. Once in a slot a request gets
its deadline (`time_limit_s`): a backend's next cancel check after it stops the run. Text replies,
clarifications and model-free edits never touch the gate.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager

from core.errors import Cancelled, ServerBusy

_POLL_S = 0.25  # how often a waiting request looks at its cancel event


class ModelSlots:
    def __init__(self, slots: int = 1, max_waiting: int | None = None, time_limit_s: float = 0.0):
        self.slots = max(1, int(slots))
        self.max_waiting = None if max_waiting is None else max(0, int(max_waiting))
        self.time_limit_s = max(0.0, float(time_limit_s or 0.0))
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._waiting: dict[int, tuple[int, str]] = {}  # ticket -> (round, owner)
        self._running: Counter = Counter()  # owner -> runs in a slot
        self._outstanding: Counter = Counter()  # owner -> runs waiting or in a slot
        self._last_round: dict[str, int] = {}  # owner -> round of their latest run (while they have one)
        self._round = 0  # round of the latest run that got a slot

    @contextmanager
    def acquire(self, request=None):
        owner = getattr(request, "owner", "") or ""
        self._enter(request, owner)
        if request is not None and self.time_limit_s:
            request.deadline = time.monotonic() + self.time_limit_s
        try:
            yield
        finally:
            with self._cond:
                self._running[owner] -= 1
                if self._running[owner] <= 0:
                    del self._running[owner]
                self._leave(owner)
                self._cond.notify_all()

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def running(self) -> int:
        with self._cond:
            return sum(self._running.values())

    def _next(self) -> int | None:
        """The waiting ticket to serve next: the lowest round, the oldest within it."""
        if not self._waiting:
            return None
        return min(self._waiting, key=lambda ticket: (self._waiting[ticket][0], ticket))

    def _leave(self, owner: str) -> None:
        self._outstanding[owner] -= 1
        if self._outstanding[owner] <= 0:
            del self._outstanding[owner]
            self._last_round.pop(owner, None)

    def _enter(self, request, owner: str) -> None:
        with self._cond:
            waiting = len(self._waiting)
            must_wait = waiting > 0 or sum(self._running.values()) >= self.slots
            if must_wait and self.max_waiting is not None and waiting >= self.max_waiting:
                raise ServerBusy(f"{waiting} image jobs are already waiting for the model; please try again in a "
                                 "minute.", suggestions=["Try again in a minute."])
            ticket = self._next_ticket
            self._next_ticket += 1
            turn = max(self._round, self._last_round.get(owner, -1) + 1)
            self._last_round[owner] = turn
            self._outstanding[owner] += 1
            self._waiting[ticket] = (turn, owner)
            reported = None
            while not (self._next() == ticket and sum(self._running.values()) < self.slots):
                if request is not None and request.cancelled():
                    del self._waiting[ticket]
                    self._leave(owner)
                    self._cond.notify_all()
                    raise Cancelled("Stopped before it started; nothing was changed.")
                ahead = sum(1 for t in self._waiting if self._waiting[t][:1] + (t,) < (turn, ticket)) + sum(
                    self._running.values())
                if request is not None and ahead != reported:
                    reported = ahead
                    request.report(0.0, f"Waiting for the model ({ahead} ahead)")
                self._cond.wait(_POLL_S)
            del self._waiting[ticket]
            self._running[owner] += 1
            self._round = max(self._round, turn)
            self._cond.notify_all()
