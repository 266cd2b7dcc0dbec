"""A stand-in for the `spaces` package on a ZeroGPU Space that records whose quota each GPU call would use.

It does at each call of a decorated function what spaces 0.51.3 does there (zero/wrappers.py and zero/client.py):
take the Gradio request from `spaces.utils.gradio_request_var()` (Gradio's `LocalContext.request`; here a
ContextVar of its own), read its `x-ip-token` header the way `client._get_headers` does (the headers object must
have `get` and an instance `__dict__`, or the real client raises "Internal Gradio error"), ask the duration
callable with the call's arguments, and run the function as in a forked worker: arguments and result pickled
across. Each call is recorded in `calls` as {"x-ip-token", "duration", "thread"}.
"""

from __future__ import annotations

import contextvars
import pickle
import threading
import types


class FakeSpaces(types.ModuleType):
    def __init__(self):
        super().__init__("spaces")
        self.calls: list[dict] = []
        self.request_var = contextvars.ContextVar("gradio_request")
        self.utils = types.ModuleType("spaces.utils")
        self.utils.gradio_request_var = lambda: self.request_var

    def GPU(self, task=None, *, duration=None, size=None):  # noqa: N802 - the real package's name
        if task is None:
            return lambda fn: self.GPU(fn, duration=duration, size=size)

        def gpu_call(*args):
            self.calls.append({"x-ip-token": _ip_token(self.request_var.get(None)),
                               "duration": duration(*args) if callable(duration) else duration,
                               "thread": threading.current_thread().name})
            sent = pickle.loads(pickle.dumps(args))  # the arguments cross a pipe into the forked worker
            return pickle.loads(pickle.dumps(task(*sent)))  # and the result comes back the same way

        return gpu_call


def _ip_token(request) -> str | None:
    if request is None:
        return None
    headers = getattr(request, "headers", None)
    if headers is None or not hasattr(headers, "__dict__") or not hasattr(headers, "get"):
        raise RuntimeError("ZeroGPU client error: Internal Gradio error")  # what spaces raises on such headers
    return headers.get("x-ip-token")


class GradioLikeRequest:
    """A request as Gradio hands one to a handler thread (headers with `get` and a `__dict__`)."""

    def __init__(self, headers: dict):
        self.headers = types.SimpleNamespace(get=lambda name, default=None: headers.get(name.lower(), default))
