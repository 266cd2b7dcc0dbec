"""Benchmark and mask-quality check of the background_removal backends, one inference thread.

Speed: each backend at 512² and 1024² (astronaut, resized) through the gateway (`Registry.run`: parameters,
segmentation, halo-free edge colours, composition) next to the raw library call on the same input in the
same run — `rembg.remove(image, session=<the same session>)` for rembg, and dlib's face detector plus
`cv2.grabCut` with the same seeds at the same 320 px working size for the embedded backend (what the
gateway adds on top: the guided-filter soft edge, halo-free edge colours and composition). Every measurement runs in its own
child process so its peak RSS is its own; times are the median of 3 runs after one warm-up, wall clock and
(in brackets) the process's CPU time, which stays meaningful when other work shares the machine. rembg uses the
real weights found by the settings (GATEWAY_BACKGROUND_REMOVAL_MODEL / _MODEL_DIR) and otherwise a tiny
one-node ONNX graph with U2-Net's interface, which then measures the wrapper alone (labelled as such).

Quality: IoU of the thresholded matte against hand-outlined polygons on real photos shipped in packages
(two people, one object on a table, one close-up cat). Run: `python bench/bench_background_removal.py`.
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


def _ellipse(cx, cy, a, b, n=48):
    import math

    return [(cx + a * math.cos(2 * math.pi * i / n), cy + b * math.sin(2 * math.pi * i / n)) for i in range(n)]


# Hand-outlined subjects (pixel coordinates of the original photos); rough to a few pixels.
OUTLINES = {
    "astronaut": ("person", [[(230, 15), (265, 18), (290, 40), (300, 75), (298, 100), (285, 125), (275, 145),
                              (295, 165), (305, 200), (303, 240), (330, 250), (350, 280), (360, 330), (380, 345),
                              (420, 340), (460, 350), (490, 380), (505, 420), (512, 440), (512, 512), (20, 512),
                              (22, 430), (25, 380), (35, 330), (45, 290), (55, 255), (80, 230), (115, 205),
                              (120, 190), (130, 170), (150, 155), (170, 150), (175, 130), (165, 110), (155, 80),
                              (160, 50), (185, 25)]]),
    "grace_hopper": ("person", [[(262, 22), (300, 35), (340, 60), (352, 80), (370, 90), (372, 130), (365, 160),
                                 (375, 180), (370, 230), (355, 280), (335, 305), (340, 320), (400, 350), (470, 375),
                                 (495, 395), (512, 420), (512, 600), (15, 600), (20, 520), (30, 440), (50, 385),
                                 (80, 370), (150, 345), (190, 325), (200, 310), (175, 285), (160, 240), (155, 200),
                                 (150, 160), (150, 120), (160, 90), (175, 70), (210, 40)]]),
    "coffee": ("object", [_ellipse(278, 230, 203, 158),
                          [(175, 100), (180, 50), (220, 25), (280, 18), (350, 25), (395, 55), (405, 100), (300, 120)],
                          [(395, 100), (410, 68), (425, 65), (420, 110)]]),
    "chelsea": ("animal", [[(30, 0), (400, 0), (385, 35), (362, 75), (362, 120), (360, 170), (345, 210),
                            (330, 250), (320, 300), (0, 300), (0, 90), (15, 60)]]),
}


def photo(name: str):
    from PIL import Image

    if name == "grace_hopper":
        import matplotlib

        return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    from skimage import data

    return Image.fromarray(getattr(data, name)())


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

    from models.background_removal import classical

    cv2.setNumThreads(1)
    detector = dlib.get_frontal_face_detector()

    def call():  # dlib + GrabCut with the backend's seeds; no guided filter
        rgb = np.asarray(image)
        scale = classical.DETECT_SIDE / max(image.size)
        faces = [(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
                 for r in detector(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), 0)]
        small, work = classical._work_image(rgb)
        labels = classical.person_labels(small.shape[:2], [tuple(v * work for v in f) for f in faces])
        bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
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
    from models.background_removal import classical

    methods = {
        "GrabCut, frame only": lambda rgb: _frame_only(classical, rgb),
        "GrabCut, face prior when a face is found (the embedded backend)": lambda rgb: classical.segment(rgb).alpha,
    }
    settings = Settings.from_env()
    if _rembg_has_weights(settings):
        from models.background_removal.backends import RembgBackend

        handle = RembgBackend(settings).load("cpu")
        methods[f"rembg {handle.model_id}"] = lambda rgb: _rembg_alpha(handle, rgb)
    rows = ["| method | " + " | ".join(f"{n} ({kind})" for n, (kind, _) in OUTLINES.items()) + " | mean |",
            "|---|" + "---|" * (len(OUTLINES) + 1)]
    for label, method in methods.items():
        scores = []
        for name, (_kind, polygons) in OUTLINES.items():
            image = photo(name)
            truth = outline_mask(image.size, polygons)
            predicted = method(np.asarray(image)) > 0.5
            scores.append((predicted & truth).sum() / (predicted | truth).sum())
        rows.append(f"| {label} | " + " | ".join(f"{s:.3f}" for s in scores) + f" | {np.mean(scores):.3f} |")
        print(rows[-1], flush=True)
    return rows


def outline_mask(size, polygons):
    import numpy as np
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for polygon in polygons:
        draw.polygon([(float(x), float(y)) for x, y in polygon], fill=255)
    return np.asarray(mask) > 127


def _frame_only(classical, rgb):
    small, _scale = classical._work_image(rgb)
    hard = classical._tidy(classical._grabcut(small, classical.frame_labels(small.shape[:2])))
    return classical.soften(rgb, hard)


def _rembg_alpha(handle, rgb):
    import numpy as np
    from PIL import Image

    return np.asarray(handle.session.predict(Image.fromarray(rgb))[0], dtype=np.float32) / 255


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        _, _, backend, variant, size, tiny_dir = sys.argv
        print(json.dumps(measure_one(backend, variant, int(size), tiny_dir)))
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
