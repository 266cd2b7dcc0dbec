"""Start-up warm-up of the embedded backends, so a creator's first request is as quick as the second.

A fresh process pays, on its first request per capability, for imports (OpenCV, onnxruntime, ncnn, dlib),
building models (the style ONNX sessions, SPAN's ncnn net, dlib's face detector and 68-point predictor)
and first-run costs inside the libraries (onnxruntime's arena, ncnn's kernels). `warm_embedded(registry)`
pays them instead in a background thread right after start-up: for every capability whose first ready
backend is embedded (weights in a package or none), it loads that backend into the shared model cache and
runs one tiny real request through it. Neural backends with downloaded weights are left lazy (they can be
gigabytes), as the design asks. Failures are logged and ignored: a warm-up never breaks start-up.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from models.contracts import READY

log = logging.getLogger(__name__)

# One small request per capability that exercises the same code path as a common real one (face swap needs
# two real faces: it is only loaded).
WARM_REQUESTS = {
    "background_removal": ("remove the background", {}),
    "object_removal": ("erase what I painted", {}),
    "style_transfer": ("make it look like starry night", {"style_key": "starry_night"}),
    "upscale": ("upscale it 4x", {"scale": 4}),
}


def warm_embedded(registry, *, capabilities=None, stop: threading.Event | None = None) -> dict[str, float]:
    """Load and exercise each capability's embedded backend; returns seconds spent per capability. `stop`
    ends it between two capabilities."""
    spent = {}
    for name in capabilities or registry.names():
        if stop is not None and stop.is_set():
            break
        started = time.perf_counter()
        # The first backend ready now, downloads aside: whether the Hub is reachable is decided at start-up
        # in parallel, and a backend that downloads on first use cannot be warmed anyway.
        backend = next((b for b in registry.get(name).backends if b.status().state == READY), None)
        if backend is None or not backend.embedded or not getattr(backend, "uses_model", True):
            continue
        try:
            registry.cache.run(backend.cache_key(), lambda: backend.load(registry.device), lambda handle: None,
                               backend.estimated_bytes)
            if name in WARM_REQUESTS:
                registry.run(_warm_request(name, *WARM_REQUESTS[name]), backend=backend)
        except Exception as exc:  # noqa: BLE001 - a warm-up must never stop the app; the first request will say
            log.info("warm-up of %s/%s stopped early: %s", name, backend.name, exc)
        spent[name] = round(time.perf_counter() - started, 3)
    log.info("embedded backends warmed in the background: %s", spent)
    return spent


def start_background_warmup(registry) -> threading.Thread:
    """`warm_embedded` in a daemon thread (the page is served meanwhile); returns the started thread.

    At exit the thread is told to stop and joined: interpreter shutdown while it is inside onnxruntime or
    ncnn aborted the process ("terminate called without an active exception", seen on SIGTERM)."""
    stop = threading.Event()
    thread = threading.Thread(target=warm_embedded, args=(registry,), kwargs={"stop": stop}, name="embedded-warm",
                              daemon=True)
    thread.start()

    def finish():
        stop.set()
        thread.join(timeout=60)

    atexit.register(finish)
    return thread


def _warm_request(name: str, text: str, params: dict):
    import numpy as np
    from PIL import Image

    from models.contracts import CapabilityRequest, InputImage

    # A smooth synthetic photo-like picture: a bright disc on a gradient (enough for every code path).
    yy, xx = np.mgrid[:96, :96].astype(np.float32)
    disc = ((xx - 48) ** 2 + (yy - 44) ** 2 < 30 ** 2)[..., None]
    rgb = np.where(disc, [220, 140, 90], np.dstack([xx, yy, 255 - xx]) * 2).clip(0, 255).astype(np.uint8)
    mask = None
    if name == "object_removal":
        painted = np.zeros((96, 96), np.uint8)
        painted[40:52, 40:52] = 255
        mask = Image.fromarray(painted, "L")
    return CapabilityRequest(name, text, params=params, images=[InputImage(Image.fromarray(rgb, "RGB"))], mask=mask)
