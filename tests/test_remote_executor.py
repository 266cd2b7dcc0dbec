"""GATEWAY_EXECUTOR=remote with a real worker process (`python app.py` with GATEWAY_ROLE=worker).

The worker serves the real registry with a tiny diffusers folder. A front (the real pipeline, store and router
in this process, its executor built from the settings) must get the same pixels as a local front, name the
worker in the metadata, relay progress, cancel a run on the worker, and fall back to local within seconds
when the worker stops. A second front process shows the same through the app's /chat API, with the
caller's x-ip-token forwarded to the worker.
"""

import time

import numpy as np
import pytest
import requests

from core.errors import Cancelled
from core.settings import Settings
from models.cache import ModelCache
from models.contracts import CapabilityRequest
from models.registry import build_registry
from pipeline.executors import build_executor
from pipeline.executors.codec import ExecutorUnavailable
from pipeline.executors.remote import RemoteExecutor, Worker
from tests.executor_util import make_front, photo, pixels, send
from tests.server_util import Server, free_port
from tests.tiny_models import build_tiny_sd_pipeline

TOKEN = "worker-test-token-123"
GENERATE = "a red fox in the snow, 64x64, 2 steps, seed 7"


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build_tiny_sd_pipeline(tmp_path_factory.mktemp("remote-t2i") / "sd")


def start_worker(tmp_path_factory, tiny_sd, token=TOKEN):
    data = tmp_path_factory.mktemp("worker") / "data"
    data.mkdir()
    return Server(data, free_port(), env={"GATEWAY_ROLE": "worker", "GATEWAY_WORKER_TOKEN": token,
                                          "GATEWAY_T2I_MODEL": str(tiny_sd), "GATEWAY_T2I_SAFETY": "off"}).start()


@pytest.fixture(scope="module")
def worker(tmp_path_factory, tiny_sd):
    server = start_worker(tmp_path_factory, tiny_sd)
    yield server
    server.stop()


def front_settings(tmp_path, tiny_sd, workers, **changes):
    values = dict(data_dir=tmp_path / "front", t2i_model=str(tiny_sd), t2i_safety="off", router_backend="lexical",
                  executor="remote", remote_workers=workers, worker_token=TOKEN)
    return Settings.from_env({}, **{**values, **changes})


def remote_front(settings):
    registry = build_registry(settings, ModelCache(2**30), device="cpu")
    executor = build_executor(settings, registry)
    assert isinstance(executor, RemoteExecutor)
    pipeline, store = make_front(settings, executor=executor, registry=registry)
    return pipeline, store, executor


def test_the_worker_serves_runs_only(worker):
    from gradio_client import Client

    assert "worker" in requests.get(worker.url, timeout=10).text
    names = set(Client(worker.url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert names == {"/run", "/cancel", "/health"}  # no chat, no sessions
    assert Client(worker.url, verbose=False).predict(api_name="/health") == {"ok": False, "error": "unauthorized"}
    refused = Client(worker.url, verbose=False, headers={"x-gateway-worker-token": "wrong"}).predict(
        {"header": {"wire": 1, "capability": "chat", "text": "hi"}, "inline": []}, [], api_name="/run")[0]
    assert refused["header"]["error"]["code"] == "unauthorized"


def test_done_when_same_pixels_as_local_and_the_worker_is_named(worker, tiny_sd, tmp_path):
    local, local_store = make_front(front_settings(tmp_path / "l", tiny_sd, "", executor="local"))
    remote, remote_store, executor = remote_front(front_settings(tmp_path / "r", tiny_sd, worker.url))
    try:
        name = f"remote:127.0.0.1:{worker.port}"
        here, there = send(local, "rotate it 90 degrees", [photo()]), send(remote, "rotate it 90 degrees", [photo()])
        assert here.metadata["intent"] == there.metadata["intent"] == "image_edit"
        assert (here.metadata["executor"], there.metadata["executor"]) == ("local", name), there.metadata
        assert np.array_equal(pixels(here), pixels(there))

        here, there = send(local, GENERATE), send(remote, GENERATE)
        assert there.metadata["executor"] == name, there.metadata
        assert there.metadata["seed"] == here.metadata["seed"] == 7
        assert pixels(there).shape == (64, 64, 3) and np.array_equal(pixels(here), pixels(there))
    finally:
        executor.close()
        local_store.close()
        remote_store.close()


def test_progress_and_cancel_reach_the_worker(worker, tiny_sd, tmp_path):
    executor = RemoteExecutor(front_settings(tmp_path, tiny_sd, worker.url),
                              build_registry(front_settings(tmp_path, tiny_sd, ""), ModelCache(2**30)))
    try:
        reports = []
        params = {"width": 64, "height": 64, "steps": 25, "seed": 3}
        result = executor.run(CapabilityRequest("image_generation", "a red fox", params=params, prompt="a red fox",
                                                progress=lambda f, d: reports.append(d)))
        assert result.metadata["steps"] == 25 and any(d.startswith("Step ") for d in reports), reports

        import threading

        cancel, seen = threading.Event(), []

        def stop_after_a_step(fraction, description):
            seen.append(description)
            if description.startswith("Step "):
                cancel.set()

        started = time.monotonic()
        with pytest.raises(Cancelled):
            executor.run(CapabilityRequest("image_generation", "a red fox", prompt="a red fox",
                                           params={**params, "steps": 100}, cancel_event=cancel,
                                           progress=stop_after_a_step))
        assert time.monotonic() - started < 60
        worker_state = executor.workers[0]
        deadline = time.monotonic() + 10
        while executor.check(worker_state) and worker_state.reported_busy and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker_state.reported_busy == 0  # the worker stopped the run, it did not finish it
    finally:
        executor.close()


def test_choice_least_busy_then_in_turn_and_dead_workers_are_skipped(tiny_sd, tmp_path, worker):
    settings = front_settings(tmp_path, tiny_sd, f"http://127.0.0.1:{free_port()},{worker.url}",
                              remote_connect_timeout_s=1.0)
    executor = RemoteExecutor(settings, build_registry(settings, ModelCache(2**30)), health_checks=False)
    dead, live = executor.workers
    assert [w.name for w in executor.candidates()] in ([dead.name, live.name], [live.name, dead.name])
    started = time.monotonic()
    result = executor.run(CapabilityRequest("chat", "hello"))
    assert time.monotonic() - started < 10
    assert result.metadata["executor"] == f"remote:{live.name}" and dead.up is False
    assert executor.candidates() == [live]

    a, b = Worker("http://a", "a"), Worker("http://b", "b")
    executor.workers = [a, b]
    a.in_flight = 2
    assert [w.name for w in executor.candidates()] == ["b", "a"]  # least busy first
    a.in_flight = 0
    firsts = {executor.candidates()[0].name for _ in range(4)}
    assert firsts == {"a", "b"}  # ties go in turn
    executor.settings = settings.replace(remote_strategy="round_robin")
    a.in_flight = 5
    assert {executor.candidates()[0].name for _ in range(4)} == {"a", "b"}


def test_stopping_the_worker_falls_back_to_local_within_seconds(tmp_path_factory, tiny_sd, tmp_path):
    server = start_worker(tmp_path_factory, tiny_sd)
    pipeline, store, executor = remote_front(front_settings(tmp_path, tiny_sd, server.url))
    strict = RemoteExecutor(front_settings(tmp_path / "strict", tiny_sd, server.url, remote_fallback="none"),
                            pipeline.registry)
    try:
        assert send(pipeline, "rotate it 90 degrees", [photo()]).metadata["executor"].startswith("remote:")
        server.stop()
        started = time.monotonic()
        reply = send(pipeline, "rotate it 180 degrees", [photo()])  # another request: not a result-cache hit
        assert time.monotonic() - started < 5
        assert reply.type == "image" and reply.metadata["executor"] == "local", reply.metadata
        assert reply.metadata["cache_hit"] is False
        assert "no remote worker answered" in reply.metadata["executor_fallback"]

        started = time.monotonic()
        with pytest.raises(ExecutorUnavailable, match="No remote worker is available"):
            strict.run(CapabilityRequest("chat", "hello"))
        assert time.monotonic() - started < 5
    finally:
        server.stop()
        executor.close()
        strict.close()
        store.close()


def test_a_front_process_with_remote_workers_forwards_the_callers_quota_token(worker, tiny_sd, tmp_path):
    from gradio_client import Client, handle_file

    data = tmp_path / "front-app" / "data"
    data.mkdir(parents=True)
    front = Server(data, free_port(), env={"GATEWAY_EXECUTOR": "remote", "GATEWAY_REMOTE_WORKERS": worker.url,
                                           "GATEWAY_WORKER_TOKEN": TOKEN, "GATEWAY_ROUTER_BACKEND": "lexical",
                                           "GATEWAY_T2I_MODEL": str(tiny_sd), "GATEWAY_T2I_SAFETY": "off"}).start()
    try:
        path = tmp_path / "photo.png"
        photo().save(path)
        client = Client(front.url, verbose=False, headers={"x-ip-token": "caller-quota-token"})
        response, files = client.predict("rotate it 90 degrees", [handle_file(str(path))], None, "", "owner-token-0001-remote",
                                         {}, api_name="/chat")
        assert response["type"] == "image", response
        assert response["data"]["metadata"]["executor"] == f"remote:127.0.0.1:{worker.port}"
        assert response["data"]["metadata"]["x_ip_token_received"] is True
        assert "caller-quota-token" not in str(response)
    finally:
        front.stop()


def test_a_slow_health_answer_is_not_a_dead_worker(tiny_sd, tmp_path):
    from concurrent.futures import TimeoutError as FutureTimeout

    class Busy:  # a worker whose /health does not answer in time (loading a model on a starved CPU)
        def submit(self, *args, **kwargs):
            class Job:
                def result(self, timeout=None):
                    raise FutureTimeout()
            return Job()

        def close(self):
            pass

    settings = front_settings(tmp_path, tiny_sd, "http://busy:7860")
    executor = RemoteExecutor(settings, build_registry(settings, ModelCache(2**30)), health_checks=False)
    worker = executor.workers[0]
    worker.up, worker.client = True, Busy()
    assert not executor.check(worker) and not executor.check(worker)
    assert worker.up is True and executor.candidates() == [worker]  # still tried: slow, not gone
    assert not executor.check(worker)
    assert worker.up is False and "no health answer in 3 checks" in worker.reason


def test_a_full_worker_passes_the_run_on_and_all_full_is_busy(tiny_sd, tmp_path):
    from concurrent.futures import Future

    from core.errors import ServerBusy
    from models.contracts import CapabilityResult
    from pipeline.executors.codec import encode_error, encode_result
    from pipeline.executors.transport import pack

    class Stub:  # a worker answering every /run with a fixed wire message
        def __init__(self, header):
            self.message = pack(header, [])[0]

        def submit(self, *args, **kwargs):
            future = Future()
            future.set_result((self.message, []))

            class Job:
                def __init__(self):
                    self.future = future

                def result(self):
                    return future.result()

                def status(self):
                    raise RuntimeError("no progress")
            return Job()

        def close(self):
            pass

    full = encode_error(ServerBusy("2 image jobs are already waiting"))
    settings = front_settings(tmp_path, tiny_sd, "http://full:7860,http://free:7860", remote_strategy="round_robin")
    executor = RemoteExecutor(settings, build_registry(settings, ModelCache(2**30)), health_checks=False)
    first, second = executor.workers
    first.client = Stub(full)
    second.client = Stub(encode_result(CapabilityResult(message="done", type="text"))[0])
    for _ in range(2):  # whichever is tried first, the free one answers
        result = executor.run(CapabilityRequest("chat", "hello"))
        assert result.message == "done" and result.metadata["executor"] == "remote:free:7860"
    assert first.up is None  # full is not down
    second.client = Stub(full)
    with pytest.raises(ServerBusy):
        executor.run(CapabilityRequest("chat", "hello"))
