"""`RemoteExecutor` (GATEWAY_EXECUTOR=remote): runs go to gateway workers (GATEWAY_ROLE=worker) via gradio_client.

The workers are the same app on other machines or Spaces (GATEWAY_REMOTE_WORKERS). A background thread checks
each one's `/health` every GATEWAY_REMOTE_HEALTH_INTERVAL_S; a run (its seed fixed by `Executor.run`) picks the
least busy healthy worker (or the next in turn), sends the wire message with the worker token and the caller's
ZeroGPU `x-ip-token` as headers, relays the worker's progress and, on stop, cancels the run on the worker. A
worker that cannot be reached, refuses the token or drops the connection is marked down at once and the run goes
to the next one (at most two tries; a worker whose model queue is full just passes the run on); with none left it
runs here (GATEWAY_REMOTE_FALLBACK=local, the metadata says why) or answers that no worker is available.
Connection attempts are bounded by GATEWAY_REMOTE_CONNECT_TIMEOUT_S, a silent connection by a 60 s read timeout
(Gradio sends heartbeats every 15 s) and a whole run by GATEWAY_EXECUTOR_TIMEOUT_S, so the chat never hangs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from core.errors import Cancelled, GatewayError, Unauthorized
from models.contracts import CapabilityRequest, CapabilityResult
from pipeline.executors import Executor, LocalExecutor
from pipeline.executors.codec import ExecutorUnavailable, decode_result, encode_request, raise_error
from pipeline.executors.transport import IP_TOKEN_HEADER, SPOOL, TOKEN_HEADER, pack, unpack

log = logging.getLogger(__name__)

MAX_TRIES = 2
POLL_S = 0.05
HEALTH_GRACE_S = 5.0  # a health answer may take this much longer than a connection
SLOW_STRIKES = 3
BUSY = "busy"  # the error code of a worker whose model queue is full (GATEWAY_MODEL_QUEUE_MAX)


@dataclass
class Worker:
    url: str
    name: str
    client: object | None = None
    up: bool | None = None  # None: not checked yet (tried like a healthy one)
    reason: str = ""
    reported_busy: int = 0  # in-flight runs the worker reported at its last health check (all fronts)
    in_flight: int = 0  # this front's runs on it now
    strikes: int = 0  # health checks in a row that got no answer in time
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def busy(self) -> int:
        return max(self.in_flight, self.reported_busy)


class _WorkerDown(Exception):
    pass


class _WorkerBusy(Exception):
    def __init__(self, header: dict):
        super().__init__("busy")
        self.header = header


class RemoteExecutor(Executor):
    name = "remote"

    def __init__(self, settings, registry, *, local: LocalExecutor | None = None, health_checks: bool = True):
        urls = [u.strip().rstrip("/") for u in (settings.remote_workers or "").split(",") if u.strip()]
        if not urls:
            raise ValueError("GATEWAY_EXECUTOR=remote needs GATEWAY_REMOTE_WORKERS (comma-separated worker URLs).")
        if not (settings.worker_token or "").strip():
            raise ValueError("GATEWAY_EXECUTOR=remote needs GATEWAY_WORKER_TOKEN (the secret the workers expect).")
        self.settings = settings
        self.registry = registry
        self.local = local or LocalExecutor(registry, model_slots=settings.concurrency_limit)
        self.workers = [Worker(url, urlparse(url).netloc or url) for url in urls]
        self._turn = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.download_dir = SPOOL / "downloads"
        if health_checks:
            threading.Thread(target=self._health_loop, name="remote-health", daemon=True).start()

    # ---- choosing a worker ------------------------------------------------------------------------------------
    def candidates(self) -> list[Worker]:
        """Healthy (or not yet checked) workers in the order to try them."""
        with self._lock:
            live = [w for w in self.workers if w.up is not False]
            if not live:
                return []
            self._turn = (self._turn + 1) % len(self.workers)
            turn = self._turn
        order = {id(w): (i - turn) % len(self.workers) for i, w in enumerate(self.workers)}
        if (self.settings.remote_strategy or "least_busy").strip().lower() == "round_robin":
            return sorted(live, key=lambda w: order[id(w)])
        return sorted(live, key=lambda w: (w.busy, order[id(w)]))

    def _mark_down(self, worker: Worker, reason: str) -> None:
        """New runs skip the worker until a health check answers; runs already on it continue (a dead
        connection fails them on its own, a silent one within the 60 s read timeout)."""
        if worker.up is not False:
            log.warning("remote worker %s is down: %s", worker.name, reason)
        with worker.lock:
            old, worker.client = worker.client, None
        worker.up, worker.reason = False, reason
        if old is not None:  # stops its heartbeat thread (joining it may take a second: not on this thread)
            threading.Thread(target=old.close, name="remote-client-close", daemon=True).start()

    # ---- a run --------------------------------------------------------------------------------------------------
    def _execute(self, request: CapabilityRequest) -> CapabilityResult:
        run_id = uuid.uuid4().hex
        header, blobs = encode_request(request, run_id=run_id, credentials=("hf_token",))
        tried, busy = [], None
        for worker in self.candidates()[:MAX_TRIES]:
            try:
                result = self._call(worker, run_id, header, blobs, request)
            except _WorkerDown as exc:
                self._mark_down(worker, str(exc))
                tried.append(f"{worker.name}: {exc}")
                continue
            except _WorkerBusy as exc:  # its model queue is full: the next worker may have room
                busy = exc.header
                continue
            result.metadata["executor"] = f"remote:{worker.name}"
            request.report(1.0, "Done")
            return result
        if busy is not None:
            raise_error(busy)  # every worker tried is full: say so rather than pile the run onto the front
        why = "; ".join(tried) or "; ".join(f"{w.name}: {w.reason or 'down'}" for w in self.workers)
        if (self.settings.remote_fallback or "local").strip().lower() == "local":
            request.report(0.0, "No remote worker answers; running here…")
            result = self.local.run(request)
            result.metadata.update(executor=self.local.name, executor_fallback=f"no remote worker answered ({why})")
            return result
        raise ExecutorUnavailable(f"No remote worker is available right now ({why}). Please try again later.",
                                  details={"executor": self.name})

    def _call(self, worker: Worker, run_id: str, header: dict, blobs: list, request: CapabilityRequest):
        from gradio_client import handle_file

        client = self._client(worker)
        message, paths = pack(header, blobs)
        ip_token = request.credentials.get("x_ip_token")
        try:
            job = client.submit(message, [handle_file(p) for p in paths], api_name="/run",
                                headers={IP_TOKEN_HEADER: ip_token} if ip_token else None)
        except Exception as exc:  # noqa: BLE001 - any transport failure means: try elsewhere
            raise _WorkerDown(_describe(exc)) from None
        with worker.lock:
            worker.in_flight += 1
        try:
            outputs = self._wait(worker, client, job, run_id, request)
        finally:
            with worker.lock:
                worker.in_flight -= 1
            for path in paths:
                Path(path).unlink(missing_ok=True)
        out_message, out_files = outputs
        files = [_path(f) for f in out_files or []]
        try:
            out_header, out_blobs = unpack(out_message, files)
        finally:
            for path in files:
                Path(path).unlink(missing_ok=True)
        code = out_header.get("error", {}).get("code")
        if code == Unauthorized.code:
            raise _WorkerDown("it refused the token (check GATEWAY_WORKER_TOKEN on both sides)")
        if code == BUSY:
            raise _WorkerBusy(out_header)
        return decode_result(out_header, out_blobs)

    def _wait(self, worker: Worker, client, job, run_id: str, request: CapabilityRequest):
        deadline = time.monotonic() + self.settings.executor_timeout_s
        reported = None
        while not wait([job.future], timeout=POLL_S).done:
            progress = _progress(job)
            if progress is not None and progress != reported:
                reported = progress
                request.report(*progress)
            if request.cancelled() or time.monotonic() > deadline:
                self._cancel_remote(worker, client, run_id)
                job.cancel()
                if request.cancelled():
                    raise Cancelled("Stopped; nothing was saved.")
                raise ExecutorUnavailable(f"The remote worker {worker.name} did not finish within "
                                          f"{self.settings.executor_timeout_s:g} s; nothing was saved.",
                                          details={"executor": self.name})
        try:
            return job.result()
        except Exception as exc:  # noqa: BLE001 - the connection broke or the worker died mid-run
            raise _WorkerDown(_describe(exc)) from None

    def _cancel_remote(self, worker: Worker, client, run_id: str) -> None:
        try:
            client.submit(run_id, api_name="/cancel").result(timeout=self.settings.remote_connect_timeout_s)
        except Exception as exc:  # noqa: BLE001 - best effort: the run is abandoned here either way
            log.info("could not cancel run %s on %s: %s", run_id, worker.name, _describe(exc))

    # ---- clients and health -----------------------------------------------------------------------------------------
    def _client(self, worker: Worker):
        with worker.lock:
            if worker.client is not None:
                return worker.client
        import httpx
        from gradio_client import Client

        timeout = httpx.Timeout(60.0, connect=self.settings.remote_connect_timeout_s)
        try:
            client = Client(worker.url, token=self.settings.hf_token or False, verbose=False,
                            headers={TOKEN_HEADER: self.settings.worker_token.strip()},
                            download_files=str(self.download_dir), analytics_enabled=False,
                            httpx_kwargs={"timeout": timeout})
        except Exception as exc:  # noqa: BLE001 - unreachable, not a gradio app, wrong URL…
            raise _WorkerDown(_describe(exc)) from None
        with worker.lock:
            worker.client = worker.client or client
            return worker.client

    def check(self, worker: Worker) -> bool:
        """Ask one worker for its health now; updates its state. A worker that cannot be reached is down at
        once; one that is only slow to answer (busy loading a model, CPU-starved) is down after SLOW_STRIKES
        slow checks in a row."""
        try:
            client = self._client(worker)
            health = client.submit(api_name="/health").result(timeout=self.settings.remote_connect_timeout_s
                                                              + HEALTH_GRACE_S)
        except _WorkerDown as exc:
            self._mark_down(worker, str(exc))
            return False
        except FutureTimeout:
            worker.strikes += 1
            if worker.strikes >= SLOW_STRIKES:
                self._mark_down(worker, f"no health answer in {worker.strikes} checks")
            return False
        except Exception as exc:  # noqa: BLE001
            self._mark_down(worker, _describe(exc))
            return False
        worker.strikes = 0
        if not isinstance(health, dict) or not health.get("ok"):
            reason = "it refused the token (check GATEWAY_WORKER_TOKEN on both sides)" \
                if isinstance(health, dict) and health.get("error") == "unauthorized" else "unhealthy"
            self._mark_down(worker, reason)
            return False
        if worker.up is False:
            log.info("remote worker %s is back", worker.name)
        worker.up, worker.reason = True, ""
        worker.reported_busy = int(health.get("in_flight", 0))
        return True

    def _health_loop(self) -> None:
        while not self._closing.is_set():
            for worker in self.workers:
                if self._closing.is_set():
                    return
                self.check(worker)
            self._closing.wait(max(0.2, self.settings.remote_health_interval_s))

    def close(self) -> None:
        self._closing.set()
        for worker in self.workers:
            with worker.lock:
                client, worker.client = worker.client, None
            if client is not None:
                client.close()

    def describe(self) -> dict:
        return {"executor": self.name, "fallback": self.settings.remote_fallback,
                "workers": [{"name": w.name, "up": w.up, "reason": w.reason, "in_flight": w.in_flight,
                             "reported_busy": w.reported_busy} for w in self.workers]}


def _progress(job) -> tuple[float, str] | None:
    try:
        units = job.status().progress_data
    except Exception:  # noqa: BLE001 - progress is informative only
        return None
    if not units:
        return None
    unit = units[-1]
    if unit.progress is None and unit.index is not None and unit.length:
        return unit.index / unit.length, unit.desc or ""
    return (float(unit.progress or 0.0), unit.desc or "")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, GatewayError):
        return exc.message
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def _path(f) -> str:
    if isinstance(f, dict):
        return f.get("path") or f.get("name")
    return getattr(f, "path", None) or str(f)
