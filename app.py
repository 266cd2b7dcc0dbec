"""Composition root: read settings, build store + model cache + registry + router + pipeline + UI, launch.

`python app.py` serves the chat page and the API on GATEWAY_HOST:GATEWAY_PORT. `build_app(settings)` is
what tests use to launch the same app on a free port with a temporary data dir.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from core.settings import Settings


def build_app(settings: Settings):
    """The gradio Blocks app and the objects behind it (for tests and scripts)."""
    from models.cache import ModelCache
    from models.registry import build_registry
    from pipeline.executors import build_executor
    from pipeline.presets import seed_templates
    from pipeline.process import Pipeline
    from pipeline.recovery import repair_interrupted
    from pipeline.refine import Refiner
    from pipeline.router import Router
    from pipeline.store import Store
    from ui.handlers import Handlers
    from ui.layout import build_ui

    store = Store(settings.db_path, settings.images_dir)
    seed_templates(store)
    repair_interrupted(store)  # messages a crash left unanswered get an "interrupted — try again" reply
    cache = ModelCache(int(settings.cache_budget_gb * 2**30))
    registry = build_registry(settings, cache, device=settings.device)
    router = Router(settings, registry)
    pipeline = Pipeline(settings, store, registry, router, Refiner(store), executor=build_executor(settings, registry))
    handlers = Handlers(settings, pipeline, store, registry, router, export_dir=export_folder(settings))
    demo = build_ui(handlers, settings)
    # Gradio recomputes its monitoring summary (a pandas groupby over up to 10,000 past events) after every
    # event by default: ~20 % of the server's CPU under many cheap requests. Once per 1,000 events is plenty.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=settings.request_concurrency)
    return demo, handlers


def export_folder(settings: Settings) -> Path:
    """Where this instance keeps the owner-named copies of images it hands to Gradio: inside Gradio's own cache
    (served where they are, pruned with it), in a folder of this data dir's own, removed with their session."""
    from gradio.utils import get_upload_folder

    instance = hashlib.sha256(str(Path(settings.data_dir).resolve()).encode()).hexdigest()[:12]
    return Path(get_upload_folder()) / f"gateway-exports-{instance}"


def launch(settings: Settings, **kwargs):
    from ui.layout import CSS

    demo, handlers = build_app(settings)
    # Load the router's text model while the server starts, so the first message does not wait for it.
    threading.Thread(target=handlers.router.warm, name="router-warm", daemon=True).start()
    auth = [tuple(pair.split(":", 1)) for pair in settings.auth.split(",") if ":" in pair] or None
    # _frontend=False skips Gradio's check that the server can reach its own URL (meant for notebooks, where it
    # falls back to a share link): one HEAD request with a 3 s timeout, which on a busy machine timed out and
    # made the server exit right after it had started.
    return demo.launch(server_name=settings.host, server_port=settings.port, auth=auth,
                       max_file_size=settings.max_upload_bytes, footer_links=["api"],
                       css=CSS, _frontend=False, **kwargs)


if __name__ == "__main__":
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(settings)
