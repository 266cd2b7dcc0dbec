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
