"""`RayExecutor` (GATEWAY_EXECUTOR=ray): capability runs on Ray Serve replicas, the front stays as it is.

Start-up (in a background thread, so the app starts at once): join the cluster at GATEWAY_RAY_ADDRESS, or start a
local Ray in this process when it is empty, then deploy two Serve applications (see `ray_replica`): `models` for
backends that load a model and `light` for model-free work. A run (its seed already fixed by `Executor.run`):
encode the request (`codec`), call the pool's handle with `multiplexed_model_id` = the backend's cache key (Serve
routes it to a replica that already holds that model), relay the streamed progress, decode the result. Stop (the
request's cancel event) cancels the Serve call, which sets the cancel event inside the replica; a run longer than
GATEWAY_EXECUTOR_TIMEOUT_S is abandoned with an error. A replica that dies mid-run is retried once (Serve sends
the retry to a live replica); a second death is a clear error. Nothing is written by replicas, so a retried or
failed run leaves nothing half-done.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from core.errors import Cancelled, GatewayError
from models.contracts import CapabilityRequest, CapabilityResult
from pipeline.executors import Executor
from pipeline.executors.codec import ExecutorUnavailable, decode_result, encode_request
from pipeline.executors.ray_replica import LIGHT, MODELS, replica_deployment

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
KEY_TTL_S = 30.0
START_TIMEOUT_S = 300.0  # a cold cluster may need to start a replica on a fresh node
UPLOAD_EXCLUDES = [".git", ".venv", "data", "docs", "bench", "tests", "*.sqlite3*", "__pycache__"]


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, settings, registry, *, registry_factory=None, start: bool = True):
        self.settings = settings
        self.registry = registry
        self.registry_factory = registry_factory  # builds each replica's registry; default: build_registry
        self.handles: dict[str, object] = {}
        self._keys: dict[str, tuple[float, str]] = {}
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._connected = False  # this executor called ray.init (a local Ray, or a connection to a cluster)
        self._closing, self._stopped = threading.Event(), threading.Event()
        self.retries = 0
        if start:
            threading.Thread(target=self._keep, name="ray-owner", daemon=True).start()

    # ---- start-up ------------------------------------------------------------------------------------------
    def _keep(self) -> None:
        """Start Ray and stay alive until close(): a local Ray's own processes (GCS, raylet) are tied to the
        thread that started them and are killed when that thread ends."""
        self._start()
        self._closing.wait()
        self._stop()

    def _start(self) -> None:
        try:
            import ray
            from ray import serve

            if not ray.is_initialized():
                ray.init(**self._init_kwargs())
                self._connected = True
            serve.start(proxy_location="Disabled")
            for pool in (MODELS, LIGHT):
                app = replica_deployment(self.settings, pool, self.registry_factory)
                self.handles[pool] = serve.run(app, name=f"gateway-{pool}", route_prefix=None)
            log.info("Ray Serve is ready (%s)", self.settings.ray_address or "local Ray in this process")
        except Exception as exc:  # noqa: BLE001 - reported to every run as a clear error
            log.exception("Ray Serve could not start")
            self._start_error = exc
        finally:
            self._ready.set()

    def _init_kwargs(self) -> dict:
        address = (self.settings.ray_address or "").strip()
        if address:  # a cluster: its nodes need the dependencies; the project's code travels with the job
            return {"address": address, "runtime_env": {"working_dir": str(ROOT), "excludes": UPLOAD_EXCLUDES}}
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        # "local": always a new Ray in this process, even when `ray start` left a cluster address on this machine
        return {"address": "local", "num_cpus": self.settings.ray_num_cpus or None, "include_dashboard": False,
                "runtime_env": {"env_vars": {"PYTHONPATH": path}}}

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        if not self._ready.wait(timeout):
            raise ExecutorUnavailable("Ray Serve is still starting; please try again in a moment.")
        if self._start_error is not None:
            raise ExecutorUnavailable(
                f"Ray Serve could not start: {self._start_error}",
                suggestions=["Check GATEWAY_RAY_ADDRESS (a cluster with token authentication also needs "
                             "RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN or ~/.ray/auth_token), or set "
                             "GATEWAY_EXECUTOR=local."],
                details={"executor": self.name})

    def close(self, timeout: float = 60.0) -> None:
        """Remove the Serve applications; shut Ray down when this executor started it."""
        self._closing.set()
        self._stopped.wait(timeout)

    def _stop(self) -> None:
        try:
            import ray
            from ray import serve

            if self.settings.ray_address.strip() or not self._connected:
                for pool in self.handles:  # a shared cluster keeps running; only our applications go
                    serve.delete(f"gateway-{pool}")
            else:
                serve.shutdown()
            if self._connected:
                ray.shutdown()  # stops a local Ray; disconnects from a cluster
        except Exception:  # noqa: BLE001 - closing is best effort
            log.exception("closing Ray Serve")
        finally:
            self._stopped.set()

    # ---- a run ---------------------------------------------------------------------------------------------
    def _execute(self, request: CapabilityRequest) -> CapabilityResult:
        capability = self.registry.get(request.capability)
        pool = MODELS if any(b.uses_model for b in capability.backends) else LIGHT
        key = self._model_key(capability.name) if pool == MODELS else ""
        header, blobs = encode_request(request, credentials=("hf_token",))
        request.report(0.0, "Sending to a Ray replica…")
        self.wait_ready()
        for attempt in (1, 2):
            try:
                result = self._call(pool, key, header, blobs, request)
            except _ReplicaLost as exc:
                if attempt == 2:
                    raise ExecutorUnavailable(
                        f"The Ray replica running this stopped twice ({exc}); nothing was saved. Please try again.",
                        details={"executor": self.name}) from None
                self.retries += 1
                log.warning("a Ray replica died mid-run (%s); retrying once", exc)
                request.report(0.0, "A Ray replica stopped; retrying on another one…")
                continue
            request.report(1.0, "Done")
            if attempt == 2:
                result.metadata["executor_retried"] = True
            return result
        raise AssertionError("unreachable")

    def _model_key(self, capability: str) -> str:
        """The multiplexed model id: the cache key of the backend the front would pick (asking costs file
        checks, so the answer is kept for KEY_TTL_S)."""
        now = time.monotonic()
        known = self._keys.get(capability)
        if known and now - known[0] < KEY_TTL_S:
            return known[1]
        try:
            key = self.registry.ready_backend(capability).cache_key()
        except GatewayError:  # the front may lack the weights the replicas have: let them decide
            key = capability
        self._keys[capability] = (now, key)
        return key

    def _call(self, pool: str, key: str, header: dict, blobs: list, request: CapabilityRequest) -> CapabilityResult:
        from ray import exceptions as ray_errors
        from ray.serve.exceptions import RequestCancelledError

        handle = self.handles[pool]
        options = {"stream": True, **({"multiplexed_model_id": key} if key else {})}
        stream = handle.options(**options).run.remote(header, blobs)
        done, why = threading.Event(), []
        threading.Thread(target=self._watch, args=(stream, request, done, why), daemon=True,
                         name="ray-watch").start()
        outcome = None
        try:
            for event in stream:
                if event[0] == "progress":
                    request.report(event[1], event[2])
                else:
                    outcome = event
        except (RequestCancelledError, ray_errors.TaskCancelledError, ray_errors.RayTaskError) as exc:
            if why == ["cancelled"]:
                raise Cancelled("Stopped; nothing was saved.") from None
            if why == ["timeout"]:
                raise ExecutorUnavailable(
                    f"The Ray replica did not finish within {self.settings.executor_timeout_s:g} s; "
                    "nothing was saved.", details={"executor": self.name}) from None
            if _is_replica_loss(exc):
                raise _ReplicaLost(type(exc).__name__) from None
            raise
        except (ray_errors.RayActorError, ray_errors.ActorUnavailableError) as exc:
            raise _ReplicaLost(type(exc).__name__) from None
        finally:
            done.set()
        if outcome is None:
            raise _ReplicaLost("the stream ended without a result")
        return decode_result(outcome[1], outcome[2])

    def _watch(self, stream, request: CapabilityRequest, done: threading.Event, why: list) -> None:
        deadline = time.monotonic() + self.settings.executor_timeout_s
        while not done.wait(0.1):
            reason = "cancelled" if request.cancelled() else "timeout" if time.monotonic() > deadline else None
            if reason:
                why.append(reason)
                stream.cancel()
                return

    def describe(self) -> dict:
        return {"executor": self.name, "ready": self._ready.is_set() and self._start_error is None,
                "address": self.settings.ray_address or "local", "retries": self.retries,
                "error": str(self._start_error) if self._start_error else None}


class _ReplicaLost(Exception):
    pass


def _is_replica_loss(exc: BaseException) -> bool:
    from ray import exceptions as ray_errors

    cause = getattr(exc, "cause", None)
    return isinstance(exc, (ray_errors.RayActorError, ray_errors.ActorUnavailableError)) or \
        isinstance(cause, (ray_errors.RayActorError, ray_errors.ActorUnavailableError))
