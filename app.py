"""Composition root: read settings, build store + model cache + registry + router + pipeline + UI, launch.

`python app.py` serves the chat page and the API on GATEWAY_HOST:GATEWAY_PORT. `build_app(settings)` is
what tests use to launch the same app on a free port with a temporary data dir.
"""

from __future__ import annotations

import logging
import threading

from core.settings import Settings


def build_app(settings: Settings):
    """The gradio Blocks app and the objects behind it (for tests and scripts)."""
    from models.cache import ModelCache
    from models.registry import build_registry
    from pipeline.executors import build_executor
    from pipeline.presets import seed_templates
    from pipeline.process import Pipeline
    from pipeline.refine import Refiner
    from pipeline.router import Router
    from pipeline.store import Store
    from ui.handlers import Handlers
    from ui.layout import build_ui

    store = Store(settings.db_path, settings.images_dir)
    seed_templates(store)
    cache = ModelCache(int(settings.cache_budget_gb * 2**30))
    registry = build_registry(settings, cache, device=settings.device)
    router = Router(settings, registry)
    pipeline = Pipeline(settings, store, registry, router, Refiner(store), executor=build_executor(settings, registry))
    handlers = Handlers(settings, pipeline, store, registry, router)
    demo = build_ui(handlers, settings)
    demo.queue(max_size=settings.queue_max_size, default_concurrency_limit=settings.request_concurrency)
    return demo, handlers


def launch(settings: Settings, **kwargs):
    from ui.layout import CSS

    demo, handlers = build_app(settings)
    # Load the router's text model while the server starts, so the first message does not wait for it.
    threading.Thread(target=handlers.router.warm, name="router-warm", daemon=True).start()
    # Load and exercise the embedded backends too, so the first request of each capability is not the slow one.
    from models.warmup import start_background_warmup
    start_background_warmup(handlers.registry)
    auth = [tuple(pair.split(":", 1)) for pair in settings.auth.split(",") if ":" in pair] or None
    return demo.launch(server_name=settings.host, server_port=settings.port, auth=auth,
                       max_file_size=settings.max_upload_bytes, footer_links=["api"],
                       css=CSS, **kwargs)


if __name__ == "__main__":
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(settings)
