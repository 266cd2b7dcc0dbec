"""The run service of a gateway started as a worker (GATEWAY_ROLE=worker), without any web framework.

A worker is stateless: no sessions, no store, no router. It checks the shared token (GATEWAY_WORKER_TOKEN) in
constant time, decodes a wire request (`codec`), runs it through its own `LocalExecutor` (so model runs still
pass the fair `GATEWAY_CONCURRENCY_LIMIT` gate), and encodes the result or the typed error. Runs are known by
the front's run id while they last, so the front can cancel one; `health()` says how busy the worker is
(the front's least-busy choice reads it). `ui/worker.py` puts this behind Gradio endpoints.
"""

from __future__ import annotations

import hmac
import logging
import threading
import uuid

from core.errors import GatewayError, Unauthorized
from pipeline.executors import LocalExecutor
from pipeline.executors.codec import WIRE_VERSION, decode_request, encode_error, encode_result

log = logging.getLogger(__name__)


class WorkerService:
    def __init__(self, settings, registry, executor: LocalExecutor | None = None):
        if not (settings.worker_token or "").strip():
            raise ValueError("GATEWAY_ROLE=worker needs GATEWAY_WORKER_TOKEN (the secret its fronts send).")
        self.settings = settings
        self.registry = registry
        self.local = executor or LocalExecutor(registry, model_slots=settings.concurrency_limit)
        self._token = settings.worker_token.strip().encode()
        self._runs: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.completed = 0

    def authorized(self, token: str | None) -> bool:
        return hmac.compare_digest((token or "").strip().encode(), self._token)

    def run(self, token: str | None, header: dict, blobs: list[bytes], progress=None) -> tuple[dict, list[bytes]]:
        """(result header, blobs); failures come back as an error header, never as an exception."""
        if not self.authorized(token):
            return encode_error(Unauthorized("This worker needs its token (GATEWAY_WORKER_TOKEN).")), []
        run_id = str(header.get("run_id") or uuid.uuid4().hex)
        cancel = threading.Event()
        with self._lock:
            self._runs[run_id] = cancel
        try:
            request = decode_request(header, blobs, progress=progress, cancel_event=cancel)
            result = self.local.run(request)
            result.metadata["executor"] = "remote"  # the front names the worker
            return encode_result(result)
        except GatewayError as exc:
            return encode_error(exc), []
        except Exception as exc:  # noqa: BLE001 - the front gets an error id, the traceback stays in this log
            error_id = uuid.uuid4().hex[:12]
            log.exception("error %s in a worker run", error_id)
            return encode_error(exc, error_id=error_id), []
        finally:
            with self._lock:
                self._runs.pop(run_id, None)
                self.completed += 1

    def cancel(self, token: str | None, run_id: str) -> bool:
        if not self.authorized(token):
            return False
        with self._lock:
            event = self._runs.get(str(run_id))
        if event is not None:
            event.set()
        return event is not None

    def health(self, token: str | None) -> dict:
        if not self.authorized(token):
            return {"ok": False, "error": "unauthorized"}
        with self._lock:
            in_flight = len(self._runs)
        return {"ok": True, "wire": WIRE_VERSION, "in_flight": in_flight, "model_runs": self.local.slots.running(),
                "waiting": self.local.slots.waiting(), "completed": self.completed,
                "capabilities": sorted(self.registry.available_names())}
