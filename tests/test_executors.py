"""The executor seam: model runs pass one fair gate; model-free work never waits behind them."""

import threading
import time

import pytest

from core.errors import Cancelled
from models.cache import ModelCache
from models.contracts import Backend, Capability, CapabilityRequest, CapabilityResult
from models.registry import Registry
from pipeline.executors import LocalExecutor
from pipeline.executors.slots import ModelSlots


class _Blocking(Backend):
    name = "blocking"
    capability = "upscale"

    def __init__(self, release: threading.Event, started: threading.Event):
        super().__init__()
        self.release, self.started = release, started

    def run(self, handle, request):
        self.started.set()
        self.release.wait(10)
        return CapabilityResult(message="slow done")


class _Cheap(Backend):
    name = "cheap"
    capability = "image_edit"
    uses_model = False

    def run(self, handle, request):
        return CapabilityResult(message="cheap done")


def _executor(release, started):
    registry = Registry(ModelCache(2**30))
    registry.add(Capability("upscale", "slow", backends=[_Blocking(release, started)]))
    registry.add(Capability("image_edit", "cheap", backends=[_Cheap()]))
    return LocalExecutor(registry, model_slots=1)


def test_model_free_work_does_not_wait_for_a_running_model():
    release, started = threading.Event(), threading.Event()
    executor = _executor(release, started)
    slow = threading.Thread(target=executor.run, args=(CapabilityRequest("upscale", "slow"),))
    slow.start()
    assert started.wait(5)
    t = time.perf_counter()
    result = executor.run(CapabilityRequest("image_edit", "rotate"))
    assert time.perf_counter() - t < 0.5
    assert result.message == "cheap done" and result.metadata["executor"] == "local"
    release.set()
    slow.join(5)


def test_a_second_model_run_waits_reports_its_place_and_can_be_cancelled():
    release, started = threading.Event(), threading.Event()
    executor = _executor(release, started)
    slow = threading.Thread(target=executor.run, args=(CapabilityRequest("upscale", "first"),))
    slow.start()
    assert started.wait(5)
    reports, cancel = [], threading.Event()
    waiting = CapabilityRequest("upscale", "second", progress=lambda f, d: reports.append(d), cancel_event=cancel)
    errors = []
    worker = threading.Thread(target=lambda: errors.append(_catch(executor.run, waiting)))
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive(), "the second model run must wait for the slot"
    assert any("1 ahead" in r for r in reports), reports
    cancel.set()
    worker.join(2)
    assert not worker.is_alive() and isinstance(errors[0], Cancelled)
    release.set()
    slow.join(5)
    assert executor.slots.running() == 0 and executor.slots.waiting() == 0


def test_slots_serve_in_arrival_order():
    slots = ModelSlots(1)
    order, gate = [], threading.Event()

    def hold():
        with slots.acquire():
            gate.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: _run_in(slots, order, i))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # arrive in order 0..4
    gate.set()
    for t in threads + [holder]:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def _run_in(slots, order, i, owner=None):
    with slots.acquire(None if owner is None else CapabilityRequest("upscale", str(i), owner=owner)):
        order.append(i)


def test_slots_are_fair_across_owners_a_second_long_run_queues_behind_others_first():
    """Alice holds the slot and queues two more; Bob and Carol each queue one after her: they go before
    Alice's second and third run (fewest runs in a slot first, arrival order among equals)."""
    slots, order, gate = ModelSlots(1), [], threading.Event()

    def hold():
        with slots.acquire(CapabilityRequest("upscale", "held", owner="alice")):
            gate.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    arrivals = [(0, "alice"), (1, "alice"), (2, "bob"), (3, "carol")]
    threads = []
    for i, owner in arrivals:
        t = threading.Thread(target=_run_in, args=(slots, order, i, owner))
        t.start()
        threads.append(t)
        time.sleep(0.05)
    gate.set()
    for t in threads + [holder]:
        t.join(5)
    assert order[:2] == [2, 3] and sorted(order[2:]) == [0, 1], order


class _Checking(Backend):
    """A model run that checks for cancellation every 20 ms for up to 5 s, like the tiled backends do."""
    name, capability = "checking", "upscale"

    def run(self, handle, request):
        deadline = time.time() + 5
        while time.time() < deadline:
            if request.cancelled():
                raise Cancelled("Stopped. Nothing was changed.")
            time.sleep(0.02)
        return CapabilityResult(message="finished")


def test_a_run_past_the_model_time_limit_is_stopped_and_says_so(settings):
    from core.errors import TimeLimitExceeded
    from tests.pipeline_util import make_pipeline

    settings = settings.replace(model_time_limit_s=0.3)
    registry = Registry(ModelCache(2**30))
    registry.add(Capability("upscale", "upscale", backends=[_Checking()]))
    executor = LocalExecutor(registry, model_slots=1, time_limit_s=settings.model_time_limit_s)
    pipe, store = make_pipeline(settings, registry=registry)
    pipe.executor = executor
    request = CapabilityRequest("upscale", "upscale it", owner="o")
    started = time.perf_counter()
    with pytest.raises(TimeLimitExceeded, match="0.3 s"):
        pipe.steps.run(request)
    assert time.perf_counter() - started < 2 and executor.slots.running() == 0
    store.close()


def _catch(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return exc


@pytest.mark.parametrize("slots", [2])
def test_two_slots_run_two_models_at_once(slots):
    gate = ModelSlots(slots)
    inside, peak, lock, release = [0], [0], threading.Lock(), threading.Event()

    def run():
        with gate.acquire():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            release.wait(2)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    release.set()
    for t in threads:
        t.join(5)
    assert peak[0] == 2


class _Probe(Backend):
    """Reports the thread, niceness and a context variable seen while it runs."""

    name = "probe"
    capability = "upscale"

    def run(self, handle, request):
        import os

        if request.text == "fail":
            raise ZeroDivisionError("model bug")
        seen.update(thread=threading.get_ident(), nice=os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
                    var=_VAR.get("unset"))
        return CapabilityResult(message="probed")


seen: dict = {}
_VAR = __import__("contextvars").ContextVar("request_var")


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="per-thread nice is Linux only")
def test_model_runs_execute_at_a_lower_cpu_priority_with_the_callers_context():
    import os

    registry = Registry(ModelCache(2**30))
    registry.add(Capability("upscale", "probe", backends=[_Probe()]))
    registry.add(Capability("image_edit", "cheap", backends=[_Cheap()]))
    executor = LocalExecutor(registry, model_slots=1, model_nice=5)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    _VAR.set("from the request")
    assert executor.run(CapabilityRequest("upscale", "go")).message == "probed"
    assert seen["thread"] != threading.get_ident() and seen["nice"] == min(19, mine + 5)
    assert seen["var"] == "from the request"  # Gradio's progress tracking rides on context variables
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # the request thread is untouched
    with pytest.raises(ZeroDivisionError):
        executor.run(CapabilityRequest("upscale", "fail"))
    assert executor.run(CapabilityRequest("image_edit", "rotate")).message == "cheap done"


def test_waiting_model_runs_are_bounded_and_cheap_work_still_runs():
    from core.errors import ServerBusy

    release, started = threading.Event(), threading.Event()
    executor = _executor(release, started)
    executor.slots.max_waiting = 2
    threads = [threading.Thread(target=_catch, args=(executor.run, CapabilityRequest("upscale", str(i))))
               for i in range(3)]
    threads[0].start()
    assert started.wait(5)
    for t in threads[1:]:
        t.start()
    deadline = time.time() + 5
    while executor.slots.waiting() < 2 and time.time() < deadline:
        time.sleep(0.02)
    assert executor.slots.waiting() == 2
    t = time.perf_counter()
    with pytest.raises(ServerBusy) as info:
        executor.run(CapabilityRequest("upscale", "one too many"))
    assert time.perf_counter() - t < 0.5 and info.value.code == "busy"
    assert executor.run(CapabilityRequest("image_edit", "rotate")).message == "cheap done"
    release.set()
    for t in threads:
        t.join(5)
    assert executor.slots.waiting() == 0
    assert executor.run(CapabilityRequest("upscale", "later")).message == "slow done"  # the bound frees up


# ---- the seam enforces itself: every executor fixes the seed and names itself ----------------------------------
class _SeedEcho(Backend):
    """Answers with the seed its request carries (a model backend, so runs take the model path)."""

    name = "seed_echo"
    capability = "image_generation"

    def run(self, handle, request):
        return CapabilityResult(message=str(request.params.get("seed")))


def _seeded_registry():
    registry = Registry(ModelCache(2**30))
    registry.add(Capability("image_generation", "seeded", params=("seed",), backends=[_SeedEcho()]))
    registry.add(Capability("image_edit", "cheap", backends=[_Cheap()]))
    return registry


def _four_executors(settings, registry):
    """local, zerogpu (a stand-in spaces), ray and remote (their transport replaced by an in-process call that
    decodes the wire header they would send)."""
    from pipeline.executors.codec import decode_request
    from pipeline.executors.ray_executor import RayExecutor
    from pipeline.executors.remote import RemoteExecutor
    from pipeline.executors.zerogpu import ZeroGpuExecutor
    from tests.fake_spaces import FakeSpaces

    def over_the_wire(header, blobs):
        request = decode_request(header, blobs)
        return registry.run(request, registry.ready_backend(request.capability))

    ray = RayExecutor(settings, registry, start=False)
    ray._ready.set()
    ray._call = lambda pool, key, header, blobs, request: over_the_wire(header, blobs)
    remote = RemoteExecutor(settings.replace(remote_workers="http://127.0.0.1:9", worker_token="t"), registry,
                            health_checks=False)
    remote._call = lambda worker, run_id, header, blobs, request: over_the_wire(header, blobs)
    return {"local": LocalExecutor(registry), "zerogpu": ZeroGpuExecutor(registry, 1, spaces_module=FakeSpaces()),
            "ray": ray, "remote:127.0.0.1:9": remote}


def test_every_executor_fixes_the_seed_before_the_run_and_names_itself(settings):
    registry = _seeded_registry()
    for name, executor in _four_executors(settings, registry).items():
        request = CapabilityRequest("image_generation", "a fox")
        result = executor.run(request)
        assert result.message.isdigit(), (name, result.message)  # a seed was chosen before the backend ran
        assert result.metadata["executor"] == name
        assert "seed" not in request.params  # the caller's request is left as it was
        assert executor.run(CapabilityRequest("image_generation", "a fox", params={"seed": 7})).message == "7"
        assert executor.run(CapabilityRequest("image_edit", "rotate")).metadata["executor"] == name


def test_an_executor_that_overrides_run_is_refused_when_defined():
    from pipeline.executors import Executor

    with pytest.raises(TypeError, match="_execute"):
        class SkipsTheSeed(Executor):  # noqa: F841 - defining it is the test
            def run(self, request):
                return CapabilityResult(message="no seed")

    class Minimal(Executor):
        name = "minimal"

        def __init__(self, registry):
            self.registry = registry

        def _execute(self, request):
            return CapabilityResult(message=str(request.params["seed"]))

    result = Minimal(_seeded_registry()).run(CapabilityRequest("image_generation", "a fox"))
    assert result.message.isdigit() and result.metadata["executor"] == "minimal"


# ---- ZeroGPU: the caller's quota token reaches spaces.GPU -------------------------------------------------------
def _zerogpu_front(settings, spaces):
    """A real pipeline (store, router) over a ZeroGPU executor whose image edits take the model path."""
    from models.registry import build_registry
    from pipeline.executors.zerogpu import ZeroGpuExecutor
    from tests.executor_util import make_front

    registry = build_registry(settings, ModelCache(2**30), device="cpu")
    registry.get("image_edit").backends[:] = [_Rotate(settings)]
    return make_front(settings, ZeroGpuExecutor(registry, 1, spaces_module=spaces), registry=registry)


class _Rotate(Backend):
    name, capability, uses_model = "rotate_on_gpu", "image_edit", True

    def run(self, handle, request):
        from models.contracts import OutputImage

        return CapabilityResult(images=[OutputImage(request.images[0].image.rotate(90))], message="Rotated.")


def _photo(tmp_path, colour="teal"):
    from PIL import Image

    path = tmp_path / f"photo-{colour}.png"
    Image.new("RGB", (48, 32), colour).save(path)  # a new colour is a new input (no result-cache hit)
    return str(path)


def test_a_chat_on_a_plain_thread_bills_the_callers_token_and_an_anonymous_one_none(settings, tmp_path):
    from tests.executor_util import send
    from tests.fake_spaces import FakeSpaces

    spaces = FakeSpaces()
    pipeline, store = _zerogpu_front(settings, spaces)
    replies = []
    for colour, context in (("teal", {"x_ip_token": "quota-token-of-alice"}), ("navy", {})):
        photo = _photo(tmp_path, colour)
        worker = threading.Thread(target=lambda c=context, p=photo: replies.append(
            send(pipeline, "rotate it 90 degrees", [p], **c)), name="chat-run-test")
        worker.start()
        worker.join(60)
    assert [r.type for r in replies] == ["image", "image"], [r.message for r in replies]
    assert [(c["x-ip-token"], c["thread"]) for c in spaces.calls] == [("quota-token-of-alice", "chat-run-test"),
                                                                     (None, "chat-run-test")]
    assert spaces.request_var.get(None) is None  # nothing is left behind in the caller's context
    assert "quota-token-of-alice" not in str(store.history(replies[0].session_id, "owner-test-executors", limit=10))
    store.close()


def test_a_request_already_in_the_context_keeps_its_own_token(settings, tmp_path):
    """An API call runs on Gradio's handler thread, whose request spaces reads directly: left alone."""
    from tests.executor_util import send
    from tests.fake_spaces import FakeSpaces, GradioLikeRequest

    spaces = FakeSpaces()
    pipeline, store = _zerogpu_front(settings, spaces)
    spaces.request_var.set(GradioLikeRequest({"x-ip-token": "from-gradio"}))
    assert send(pipeline, "rotate it 90 degrees", [_photo(tmp_path)], x_ip_token="from-gradio").type == "image"
    assert spaces.calls[-1]["x-ip-token"] == "from-gradio"
    store.close()


def test_a_browser_chat_through_livechat_passes_the_page_requests_token_to_spaces_gpu(settings, tmp_path):
    """LiveChat.send reads the page request's headers, LiveChat.start runs the message on a plain thread."""
    from types import SimpleNamespace

    from tests.fake_spaces import FakeSpaces
    from ui.handlers import Handlers
    from ui.live import LiveChat

    spaces = FakeSpaces()
    settings = settings.replace(owner_secret="zerogpu-live-secret")
    pipeline, store = _zerogpu_front(settings, spaces)
    live = LiveChat(Handlers(settings, pipeline, store, pipeline.registry, pipeline.router), upload_folder=tmp_path)
    page = SimpleNamespace(session_hash="tab-1", username=None, headers={"x-ip-token": "quota-token-of-bob"})
    run = live.send("rotate it 90 degrees", [_photo(tmp_path)], {}, "owner-bob", page)
    live.start(run)
    assert run.finished.wait(60) and run.response.type == "image", run.response
    assert spaces.calls and spaces.calls[-1]["x-ip-token"] == "quota-token-of-bob"
    assert spaces.calls[-1]["thread"].startswith("chat-run-")  # the board's plain thread, no Gradio request
    store.close()


REAL_SPACES_SCRIPT = r'''
import json
import spaces
import spaces.zero.client as client
from spaces.config import Config
from models.cache import ModelCache
from models.contracts import Backend, Capability, CapabilityRequest, CapabilityResult
from models.registry import Registry
from pipeline.executors.zerogpu import ZeroGpuExecutor

Config.zero_gpu = True  # what SPACES_ZERO_GPU=true sets; the scheduler below stands in for ZeroGPU's service
seen = []

class Scheduled(Exception):
    pass

def schedule(task_id, request=None, duration=None, gpu_size=None, _first_attempt=True):
    headers = client._get_headers(request)  # the real client's own reading of the request
    seen.append({"x-ip-token": headers.get("x-ip-token"), "seconds": duration.total_seconds()})
    raise Scheduled()

client.schedule = schedule

class Echo(Backend):
    name, capability = "echo", "upscale"
    def run(self, handle, request):
        return CapabilityResult(message="ran")

registry = Registry(ModelCache(2**30))
registry.add(Capability("upscale", "echo", backends=[Echo()]))
executor = ZeroGpuExecutor(registry, 1)  # the real `spaces` module
for credentials in ({"x_ip_token": "quota-token-of-carol"}, {}):
    try:
        executor.run(CapabilityRequest("upscale", "upscale it", credentials=credentials))
    except Scheduled:
        pass
print(json.dumps(seen))
'''


def test_the_real_spaces_wrapper_reads_the_token_the_executor_presents():
    """spaces 0.51.3 itself, ZeroGPU switched on in a fresh process, its scheduler call recorded (no ZeroGPU here):
    the header the real wrapper and client read is the caller's token, and the duration is the executor's."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import torch

    from pipeline.executors.zerogpu import GpuTimes

    if torch.version.cuda is None:  # spaces/zero/torch/static.py reads torch.version.cuda at import
        pytest.skip("spaces' ZeroGPU code needs a CUDA build of torch (the CPU install has none; ZeroGPU never does)")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    out = subprocess.run([sys.executable, "-c", REAL_SPACES_SCRIPT], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    asked = GpuTimes().duration("upscale", 4.0)  # the request names no image: 1024² at the default 4x
    assert seen == [{"x-ip-token": "quota-token-of-carol", "seconds": asked}, {"x-ip-token": None, "seconds": asked}]
