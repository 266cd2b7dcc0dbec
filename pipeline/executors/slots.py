"""`ModelSlots`: a fair, bounded gate in front of model runs, so cheap work never waits behind a model.

Gradio runs many requests at once; only the runs that use a model (GPU memory, a whole CPU core) pass through
this gate, at most `slots` at a time, in arrival order (a ticket queue, not a bare semaphore, so nobody
starves). A request waiting here reports its place in the queue through its progress callback and gives up
at once when its cancel event is set. The wait is bounded: with `max_waiting` runs already waiting, the next
one is refused at once (`busy`) instead of occupying one more of the web server's request slots, which
cheap work needs. Text replies, clarifications and model-free edits never touch it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from core.errors import Cancelled, ServerBusy

_POLL_S = 0.25  # how often a waiting request looks at its cancel event


class ModelSlots:
    def __init__(self, slots: int = 1, max_waiting: int | None = None):
        self.slots = max(1, int(slots))
        self.max_waiting = None if max_waiting is None else max(0, int(max_waiting))
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0  # tickets below this number may run (or ran)
        self._running = 0
        self._abandoned: set[int] = set()

    @contextmanager
    def acquire(self, request=None):
        ticket = self._enter(request)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()
            del ticket

    def waiting(self) -> int:
        with self._cond:
            return self._next_ticket - self._serving

    def running(self) -> int:
        with self._cond:
            return self._running

    def _enter(self, request) -> int:
        with self._cond:
            waiting = self._next_ticket - self._serving
            must_wait = waiting > 0 or self._running >= self.slots
            if must_wait and self.max_waiting is not None and waiting >= self.max_waiting:
                raise ServerBusy(f"{waiting} image jobs are already waiting for the model; please try again in a "
                                 "minute.", suggestions=["Try again in a minute."])
            ticket = self._next_ticket
            self._next_ticket += 1
            reported = None
            while not (ticket == self._serving and self._running < self.slots):
                if request is not None and request.cancelled():
                    self._abandoned.add(ticket)
                    self._skip_abandoned()
                    self._cond.notify_all()
                    raise Cancelled("Stopped before it started; nothing was changed.")
                ahead = ticket - self._serving + self._running
                if request is not None and ahead != reported:
                    reported = ahead
                    request.report(0.0, f"Waiting for the model ({ahead} ahead)")
                self._cond.wait(_POLL_S)
            self._serving += 1
            self._running += 1
            self._skip_abandoned()
            self._cond.notify_all()
            return ticket

    def _skip_abandoned(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
