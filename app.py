"""Composition root: read settings, build store + model cache + registry + router + pipeline + UI, launch.

`python app.py` serves the chat page and the API where the platform expects it (`core/platform.py`: Gradio's
defaults and `GRADIO_SERVER_*` unless `GATEWAY_HOST`/`GATEWAY_PORT` are set); with GATEWAY_ROLE=worker it serves
only the run endpoints a front's GATEWAY_REMOTE_WORKERS call (`ui/worker.py`). Before anything else it restores
a backup into an empty data dir and settles the owner secret; the start-up block (device, torch/CUDA and the
NVIDIA driver, dtype, ONNX providers, each capability's backend and weights) is the first thing logged, before
Gradio's banners (its facts are collected while the app is built), and a thread fetches the weights that are not
on the Hub after launch. SIGTERM (a Space restart, `docker stop`) shuts down cleanly with a last backup snapshot.
`build_app(settings)` is what tests and scripts use to build the same app without launching it.
"""

from __future__ import annotations

from core import platform

if platform.on_zerogpu():  # ZeroGPU: `spaces` must be imported before anything initialises CUDA
    import spaces  # noqa: F401

import hashlib
import logging
import os
import signal
import threading
from pathlib import Path

from core.settings import Settings

log = logging.getLogger("gateway")


def prepare(settings: Settings):
    """Restore the backup into an empty data dir, then settle the owner secret; returns (settings, backup)."""
    from pipeline.boundary.identity import resolve_owner_secret
    from pipeline.store.backup import Backup

    backup = Backup.from_settings(settings)
    if backup is not None:
        backup.restore_if_empty()
    secret, origin = resolve_owner_secret(settings.owner_secret, settings.data_dir)
    if origin == "generated":
        log.warning("GATEWAY_OWNER_SECRET is not set: generated a random one and kept it in %s/owner_secret%s. To "
                    "choose it yourself, %s.", settings.data_dir, " (and the backup)" if backup else "",
                    platform.secret_hint())
    if platform.on_zerogpu():
        settings = settings.replace(t2i_compile=False)  # torch.compile is not supported on ZeroGPU
    return settings.replace(owner_secret=secret), backup


def build_app(settings: Settings):
    """The gradio Blocks app and the objects behind it (for tests and scripts): the parts from
    `pipeline.assemble`, the UI on top."""
    from pipeline.assemble import assemble
    from pipeline.boundary.identity import resolve_owner_secret

    if settings.role == "worker":  # a stateless run endpoint for a front's GATEWAY_REMOTE_WORKERS (ui/worker.py)
        from pipeline.executors.worker_service import WorkerService
        from ui.worker import build_worker_ui

        parts = assemble(settings, "worker")
        service = WorkerService(settings, parts.registry, parts.executor)
        demo = build_worker_ui(service, settings)
        demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=settings.request_concurrency)
        return demo, service
    from ui.handlers import Handlers
    from ui.layout import build_ui

    if not settings.owner_secret:
        settings = settings.replace(owner_secret=resolve_owner_secret("", settings.data_dir)[0])
    parts = assemble(settings, "front")
    handlers = Handlers(settings, parts.pipeline, parts.store, parts.registry, parts.router,
                        export_dir=export_folder(settings))
    demo = build_ui(handlers, settings)
    # Gradio recomputes its monitoring summary (a pandas groupby over up to 10,000 past events) after every
    # event by default: ~20 % of the server's CPU under many cheap requests. Once per 1,000 events is plenty.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=settings.request_concurrency)
    return demo, handlers


def preload_on_zerogpu(settings: Settings, registry) -> None:
    """ZeroGPU wants models placed on cuda in the main process, before launch (front and worker alike)."""
    from pipeline.assemble import preload_on_zerogpu as preload

    if platform.on_zerogpu():
        log.info("ZeroGPU: preloaded %s", ", ".join(preload(registry)) or "nothing (no weights present)")


def export_folder(settings: Settings) -> Path:
    """Where this instance keeps the owner-named copies of images it hands to Gradio: inside Gradio's own cache
    (served where they are, pruned with it), in a folder of this data dir's own, removed with their session."""
    from gradio.utils import get_upload_folder

    instance = hashlib.sha256(str(Path(settings.data_dir).resolve()).encode()).hexdigest()[:12]
    return Path(get_upload_folder()) / f"gateway-exports-{instance}"


def start_up_facts(settings: Settings) -> threading.Thread:
    """Collect the start-up block's facts (torch, CUDA and the driver, ONNX, the Hub: seconds) in a thread."""
    from models import runtime

    def collect():
        try:
            runtime.collect(settings)
        except Exception:  # noqa: BLE001 - the block then shows what it could not find out
            log.exception("collecting the start-up facts failed")

    thread = threading.Thread(target=collect, name="start-up-facts", daemon=True)
    thread.start()
    return thread


def log_start_up_block(settings: Settings, registry, facts: threading.Thread) -> None:
    """The start-up block as the first lines of the log, before Gradio's banners (`facts` ran while the app was
    built)."""
    from models import runtime

    facts.join(timeout=60)
    try:
        for line in runtime.log_lines(runtime.block(settings, registry)):
            (log.warning if line.startswith("WARNING") else log.info)(line)
    except Exception:  # noqa: BLE001 - the app serves without the report
        log.exception("start-up report failed")


def fetch_off_hub_weights(settings: Settings, registry) -> None:
    """The weights that are not on the Hub (rembg's), in a thread after launch."""
    from models import runtime

    try:
        runtime.fetch_off_hub_weights(registry, settings)
    except Exception:  # noqa: BLE001 - the embedded backends keep serving
        log.exception("fetching the weights that are not on the Hub failed")


def launch(settings: Settings, **kwargs):
    if settings.role == "worker":
        return launch_worker(settings, **kwargs)
    from ui.style import CSS

    settings, backup = prepare(settings)
    facts = start_up_facts(settings)  # while the app is built
    event_loops = platform.AbandonedEventLoops()  # gradio abandons some while it builds and launches
    demo, handlers = build_app(settings)
    # Load the router's text model while the server starts, so the first message does not wait for it.
    threading.Thread(target=handlers.router.warm, name="router-warm", daemon=True).start()
    log_start_up_block(settings, handlers.registry, facts)
    preload_on_zerogpu(settings, handlers.registry)
    if backup is not None:
        backup.snapshot(force=backup.manifest() is None)
        backup.start()
    from ui.gate import auth_launch_kwargs

    try:
        # _frontend=False skips Gradio's check that the server can reach its own URL (meant for notebooks, where
        # it falls back to a share link): one HEAD request with a 3 s timeout, which on a busy machine timed out
        # and made the server exit right after it had started.
        demo.launch(**platform.listen_kwargs(settings), **auth_launch_kwargs(settings),
                    max_file_size=settings.max_upload_bytes, footer_links=["api"], css=CSS,
                    mcp_server=settings.mcp_server, prevent_thread_lock=True, _frontend=False, **kwargs)
        event_loops.close()
        from ui.api import mcp_json_outputs

        mcp_json_outputs(demo)
        threading.Thread(target=fetch_off_hub_weights, args=(settings, handlers.registry), name="off-hub-weights",
                         daemon=True).start()
        # Load and exercise the embedded backends too, so the first request of each capability is not the slow one.
        from models.warmup import start_background_warmup
        start_background_warmup(handlers.registry)
        _stop_on_sigterm()
        demo.block_thread()  # until Ctrl+C or SIGTERM
    finally:
        if backup is not None:
            backup.stop()  # the last snapshot of a clean shutdown
    return demo


def launch_worker(settings: Settings, **kwargs):
    """Serve a worker where the platform expects it (as the front does: core/platform.py)."""
    from ui.worker import MAX_FILE_BYTES

    demo, service = build_app(settings)
    preload_on_zerogpu(settings, service.registry)
    # Uploads are accepted before the token is checked: bound them (the largest stored image a front may send).
    return demo.launch(**platform.listen_kwargs(settings), max_file_size=MAX_FILE_BYTES, footer_links=["api"],
                       **kwargs)


def _stop_on_sigterm() -> None:
    """SIGTERM ends the server like Ctrl+C does, so `launch()` returns and the last snapshot is taken."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        log.info("SIGTERM: shutting down")
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: every thread's stack to stderr, for a stuck request
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)


if __name__ == "__main__":
    from core.memory import release_large_buffers

    release_large_buffers()  # freed image buffers go back to the system instead of staying in per-thread heaps
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(settings)
