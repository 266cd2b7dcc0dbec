"""`ModelWorkers`: the threads model runs execute on, at a lower CPU priority than request handling.

The model gate (`ModelSlots`) keeps cheap work from *queueing* behind a model; on a CPU host the model run
still competes with it for the cores. Model runs therefore execute on a small pool of worker threads (one
per model slot) whose Linux scheduling priority is lowered (`nice`, per thread) when they start: a text
reply or a Pillow edit arriving during a long upscale gets the CPU first, and the model run takes what is
left. Threads a model library starts from a worker (OpenMP, ncnn) inherit its priority. The caller's
context variables travel with the run (Gradio's progress reporting uses them) and its result or exception
comes back unchanged. Elsewhere than Linux, where `setpriority` would lower the whole server, runs keep the
normal priority.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


def lower_this_thread(nice: int) -> int | None:
    """Raise the calling thread's niceness by `nice` (Linux only); returns the new niceness, or None."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()
    try:
        target = min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice)
        os.setpriority(os.PRIO_PROCESS, tid, target)
        return target
    except OSError as exc:  # e.g. a sandbox that forbids it: runs go on at normal priority
        log.warning("could not lower the priority of the model worker thread: %s", exc)
        return None


class ModelWorkers:
    def __init__(self, threads: int, nice: int):
        self.nice = nice
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="model-run",
                                        initializer=lower_this_thread, initargs=(nice,))

    def run(self, fn, *args):
        """fn(*args) on a worker thread, with the caller's context variables; waits for it."""
        context = contextvars.copy_context()
        return self._pool.submit(context.run, fn, *args).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
