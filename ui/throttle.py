"""Slowing down guessing: lookups by owner token or id that find nothing are counted per client.

An owner token is the key to a person's chats through the API, so trying many tokens (or many session and image
ids) must not be cheap. `MissThrottle` counts, per client address, the lookups that found nothing in a sliding
window; past the limit every lookup from that client is refused (`rate_limited`, saying when to try again)
until old misses age out. Real use rarely misses: a script knows its own token and ids. The client address is
the connection's, or on a Hugging Face Space (which proxies every request) the first `X-Forwarded-For` entry
the Space's proxy sets. Pure Python: no gradio import.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from core.errors import RateLimited
from core.platform import on_space

MAX_CLIENTS = 50_000  # clients remembered at once (the least recently seen are forgotten first)


def client_of(request) -> str:
    """The client address a request came from ("" when unknown)."""
    headers = getattr(request, "headers", None)
    if on_space() and headers is not None and hasattr(headers, "get"):
        forwarded = headers.get("x-forwarded-for") or ""
        if forwarded:
            return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


class MissThrottle:
    def __init__(self, limit: int = 30, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._misses: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Refuse when this client missed `limit` times within the window."""
        with self._lock:
            misses = self._recent(client)
            if misses is not None and len(misses) >= self.limit:
                wait = max(1, round(misses[0] + self.window_s - time.monotonic()))
                raise RateLimited(f"Too many lookups that found nothing came from your address; try again in "
                                  f"{wait} s.", suggestions=[f"Wait {wait} seconds."], details={"retry_after_s": wait})

    def miss(self, client: str) -> None:
        with self._lock:
            misses = self._recent(client)
            if misses is None:
                misses = self._misses[client] = deque()
            misses.append(time.monotonic())
            self._misses.move_to_end(client)
            while len(misses) > self.limit:
                misses.popleft()
            while len(self._misses) > MAX_CLIENTS:
                self._misses.popitem(last=False)

    def _recent(self, client: str):
        misses = self._misses.get(client)
        if misses is None:
            return None
        cutoff = time.monotonic() - self.window_s
        while misses and misses[0] < cutoff:
            misses.popleft()
        return misses
