"""Benchmark of the face-swap backends next to their raw library calls, at 512² and 1024² (prints a table).

Source face: matplotlib's grace_hopper.jpg; target: scikit-image's astronaut, both resized so their longer side
is the row's size. Each backend and size runs in its own child process, timing two calls on the same inputs,
interleaved:
- raw: the library calls alone on decoded numpy arrays (dlib detection + landmarks on both images and the
  warp/blend for the landmark swap; FaceAnalysis.get on both images + INSwapper.get for InsightFace);
- backend: `Registry.run(CapabilityRequest)` with PIL inputs, exactly as the pipeline calls it (consent check,
  image choice, face selection, recipe and provenance).
The ratio backend/raw is the capability's own overhead (target ≤ 1.05). Times are medians of warm runs after
the model is loaded; one inference thread. Peak RSS is the process's after the raw calls, then after the
backend calls too. The InsightFace rows need its real (opt-in) weights: set
GATEWAY_FACE_SWAP_INSIGHTFACE_PACK and GATEWAY_FACE_SWAP_SWAPPER_MODEL, otherwise they are skipped.

Run: `python bench/bench_face_swap.py [--runs 15] [--sizes 512 1024]`
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

for key, value in {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}.items():
    os.environ.setdefault(key, value)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BACKENDS = ("dlib_landmarks", "insightface")


def _images(size: int):
    import matplotlib
    from PIL import Image
    from skimage import data

    def fit(img):
        scale = size / max(img.size)
        return img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)

    source = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    return fit(source), fit(Image.fromarray(data.astronaut()))


def _settings():
    from core.settings import Settings

    return Settings.from_env()


def _registry(settings):
    from models.cache import ModelCache
    from models.face_swap import capability
    from models.registry import Registry

    registry = Registry(ModelCache(4 * 2**30), device=settings.device)
    registry.add(capability(settings))
    return registry


def child(backend_name: str, size: int, runs: int) -> dict:
    import cv2

    cv2.setNumThreads(1)
    source, target = _images(size)
    registry = _registry(_settings())
    backend = next(b for b in registry.get("face_swap").backends if b.name == backend_name)
    status = backend.status()
    if not status.ready:
        return {"skipped": f"{status.state}: {status.reason}"}
    started = time.perf_counter()
    handle = backend.load(registry.device)
    load_s = time.perf_counter() - started
    raw = _raw_call(backend_name, handle, source, target)
    full = _backend_call(registry, backend, handle, source, target)
    raw(), raw()  # warm-up: first calls pay for lazy imports and allocator growth
    raw_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    full(), full()
    full_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = {"raw": [], "backend": []}
    for _ in range(runs):  # interleaved, so both see the same load on a shared machine
        for name, fn in (("raw", raw), ("backend", full)):
            begun = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begun)
    return {"raw": statistics.median(times["raw"]), "backend": statistics.median(times["backend"]),
            "raw_rss": raw_rss, "backend_rss": full_rss, "load_seconds": load_s}


def _raw_call(backend_name, handle, source, target):
    import numpy as np

    src, tgt = np.asarray(source), np.asarray(target)
    if backend_name == "dlib_landmarks":
        from models.face_swap.landmark_swap import swap_face

        def call():
            s, t = handle.detect(src), handle.detect(tgt)
            return swap_face(src, max(s, key=lambda f: f.area), tgt, max(t, key=lambda f: f.area))
        return call
    src_bgr, tgt_bgr = np.ascontiguousarray(src[..., ::-1]), np.ascontiguousarray(tgt[..., ::-1])

    def call():
        s, t = handle.analysis.get(src_bgr), handle.analysis.get(tgt_bgr)
        return handle.swapper.get(tgt_bgr, max(t, key=_bbox_area), max(s, key=_bbox_area), paste_back=True)
    return call


def _backend_call(registry, backend, handle, source, target):
    from models.contracts import CapabilityRequest, InputImage

    registry.cache.run(backend.cache_key(), lambda: handle, lambda h: None, backend.estimated_bytes)

    def call():
        images = [InputImage(source, role="attachment"), InputImage(target, role="attachment")]
        request = CapabilityRequest("face_swap", "swap my face onto this photo", images=images,
                                    context={"consent": True})
        return registry.run(request, backend)
    return call


def _bbox_area(face) -> float:
    x1, y1, x2, y2 = face.bbox[:4]
    return float((x2 - x1) * (y2 - y1))


def _spawn(backend: str, size: int, runs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", backend, str(size), "--runs", str(runs)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"skipped": "failed: " + (lines[-1] if lines else f"exit {out.returncode}")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.runs)))
        return
    print(f"face swap, 1 thread, median of {args.runs} interleaved warm runs, one process per backend and size\n")
    print("| backend | size | raw call s | backend s | ratio | peak RSS MB raw / +backend | load s |")
    print("|---|---|---|---|---|---|---|")
    for name in BACKENDS:
        for size in args.sizes:
            r = _spawn(name, size, args.runs)
            if "skipped" in r:
                print(f"| {name} | {size}² | – | – | – | – | skipped: {r['skipped']} |")
                continue
            print(f"| {name} | {size}² | {r['raw']:.3f} | {r['backend']:.3f} | {r['backend'] / r['raw']:.3f} | "
                  f"{r['raw_rss']:.0f} / {r['backend_rss']:.0f} | {r['load_seconds']:.2f} |")


if __name__ == "__main__":
    main()
