"""`ModelSlots`: a fair, bounded gate in front of model runs, so cheap work never waits behind a model.

Gradio runs many requests at once; only the runs that use a model (GPU memory, a whole CPU core) pass through
this gate, at most `slots` at a time, in arrival order (a ticket queue, not a bare semaphore, so nobody
starves). A request waiting here reports its place in the queue through its progress callback and gives up
at once when its cancel event is set. Text replies, clarifications and model-free edits never touch it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from core.errors import Cancelled

_POLL_S = 0.25  # how often a waiting request looks at its cancel event


class ModelSlots:
    def __init__(self, slots: int = 1):
        self.slots = max(1, int(slots))
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
