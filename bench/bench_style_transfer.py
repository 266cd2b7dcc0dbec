"""Benchmark of style_transfer's backends next to the raw library calls they wrap, at 512² and 1024².

Each row runs in a fresh process (so peak RSS means something): one raw call (peak RSS after it), one
backend `run()` on the same image (peak RSS after both), then N interleaved timed pairs; medians and the
ratio backend / raw. Rows: the 26-style ONNX network (raw = `StyleTransfer.stylize`, and the bare
onnxruntime `session.run` on the prepared tensor), the style-from-a-picture network (raw =
`StyleTransfer.stylize_with`), and two classical filters (raw = the OpenCV function on the same array).
Diffusion styles are not measured: they are an image_generation run (see that capability's benchmark).
The backend works at the image's own size here (`style_max_side` = the benchmark size), as the raw call does.

Run: `python bench/bench_style_transfer.py [--sizes 512 1024] [--repeats 5] [--threads 1] [--device auto]`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

for key, value in {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}.items():
    os.environ.setdefault(key, value)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = ("fast_neural", "arbitrary", "pencil_sketch", "cartoon")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(row: str, size: int, repeats: int, threads: int, device: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from PIL import Image
    from skimage import data

    from core.settings import Settings
    from models.contracts import CapabilityRequest, InputImage
    from models.style_transfer import engine, filters
    from models.style_transfer.backends import NeuralStyleBackend

    import cv2

    cv2.setNumThreads(threads)
    photo = Image.fromarray(data.astronaut()).resize((size, size), Image.LANCZOS)
    style_photo = Image.fromarray(data.coffee())
    settings = Settings.from_env({}, style_threads=threads, style_max_side=size, device=device)
    backend = NeuralStyleBackend(settings)
    handle = backend.load(device)
    result = {"row": row, "size": size, "provider": handle.providers[0]}

    if row == "fast_neural":
        index = 19
        raw = lambda: engine.stylize(handle, photo, index, 1.0, False)  # noqa: E731
        request = lambda: CapabilityRequest("style_transfer", "", params={"style_key": "starry_night"},  # noqa: E731
                                            images=[InputImage(photo)])
        session_inputs = {"image": np.ascontiguousarray(
            (np.asarray(photo, np.float32) / 255.0).transpose(2, 0, 1)[None]),
            "style_weights": np.eye(26, dtype=np.float32)[index]}
        raw()
        session = handle._sessions["multistyle26"]  # the session the library just built (private attribute)
        bare = lambda: session.run(None, session_inputs)  # noqa: E731
    elif row == "arbitrary":
        bare = None
        raw = lambda: engine.stylize_with(handle, photo, style_photo, 1.0, False)  # noqa: E731
        request = lambda: CapabilityRequest("style_transfer", "style of the second image", params={"style_image": 1},  # noqa: E731
                                            images=[InputImage(photo), InputImage(style_photo)])
    else:
        bare = None
        function = filters.FILTERS[row]
        raw = lambda: function(photo)  # noqa: E731
        request = lambda: CapabilityRequest("style_transfer", "", params={"style_key": row},  # noqa: E731
                                            images=[InputImage(photo)])
    raw()
    result["raw_rss_mb"] = _peak_mb()
    assert backend.run(handle, request()).images[0].image.size == photo.size
    result["backend_rss_mb"] = _peak_mb()
    raw_times, backend_times, bare_times = [], [], []
    for _ in range(repeats):  # interleaved, so load from other processes hits all alike
        if bare is not None:
            started = time.perf_counter()
            bare()
            bare_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        raw()
        raw_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        backend.run(handle, request())
        backend_times.append(time.perf_counter() - started)
    result["raw_s"], result["backend_s"] = statistics.median(raw_times), statistics.median(backend_times)
    if bare_times:
        result["onnx_s"] = statistics.median(bare_times)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    args = parser.parse_args()

    context = mp.get_context("spawn")
    print(f"threads={args.threads} device={args.device} repeats={args.repeats} (median of warm runs)\n")
    print("| backend | size | raw call | raw s | backend s | ratio | bare onnx s | peak RSS raw / backend MB | provider |")
    print("|---|---|---|---|---|---|---|---|---|")
    raw_names = {"fast_neural": "StyleTransfer.stylize", "arbitrary": "StyleTransfer.stylize_with",
                 "pencil_sketch": "filters.pencil_sketch", "cartoon": "filters.cartoon"}
    for size in args.sizes:
        for row in args.rows:
            with context.Pool(1) as pool:
                r = pool.apply(measure, (row, size, args.repeats, args.threads, args.device))
            onnx = f"{r['onnx_s']:.3f}" if "onnx_s" in r else "–"
            print(f"| {row} | {size}² | {raw_names[row]} | {r['raw_s']:.3f} | {r['backend_s']:.3f} | "
                  f"{r['backend_s'] / r['raw_s']:.3f} | {onnx} | {r['raw_rss_mb']:.0f} / {r['backend_rss_mb']:.0f} | "
                  f"{r['provider']} |", flush=True)


if __name__ == "__main__":
    main()
