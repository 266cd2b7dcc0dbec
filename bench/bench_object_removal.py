"""Benchmark of the object-removal backends against the raw library call on the same input, one thread.

Input: astronaut() at 512² and 1024² with an elliptical mask over 10 % of the image. The wrapper is
`Registry.run` (mask dilation, crop around the mask, fill, paste back only inside the mask); the raw call
is the library on the whole image with the same (dilated) mask: `cv2.inpaint` Telea, `patchmatch.inpaint`
(same source band), the spandrel LaMa descriptor. Each peak RSS comes from its own subprocess (imports
included); the timings are taken in one process, wrapper and raw in turn, at least `--repeats` rounds and
3 s after a warm-up that also loads the model (median wall time, best CPU time). On CPU the ratio compares
the CPU times, on a GPU the wall times. Without LaMa weights in the cache the `lama` rows use the real
big-lama architecture with random weights (same compute, no download). LaMa at 1024² takes ~36 s on one
CPU core, so that row needs `--full` there.

    python bench/bench_object_removal.py [--full] [--device auto|cpu|cuda] [--repeats 5]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIDES = (512, 1024)
MASK_FRACTION = 0.10


def _inputs(side: int):
    """(photo, painted mask): an ellipse over 10 % of the image, right of the astronaut's head."""
    import math

    from PIL import Image, ImageDraw
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BICUBIC)
    mask = Image.new("L", (side, side), 0)
    width = 0.30 * side
    height = MASK_FRACTION * side * side * 4 / math.pi / width
    x0, y0 = 0.62 * side, 0.08 * side
    ImageDraw.Draw(mask).ellipse((x0, y0, x0 + width, y0 + height), fill=255)
    return photo, mask


def _settings(lama_weights: str | None):
    from core.settings import Settings

    overrides = {"data_dir": Path(tempfile.gettempdir()) / "bench_object_removal",
                 "object_removal_grounding_model": ""}
    if lama_weights:
        overrides["object_removal_model"] = lama_weights
    return Settings.from_env({}, **overrides)


def _random_lama(folder: Path) -> Path:
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.LaMa import LaMa

    torch.manual_seed(0)
    path = folder / "random-big-lama-architecture.safetensors"
    if not path.exists():
        generator = LaMa(in_nc=4, out_nc=3).model
        save_file({f"generator.{k}": v.contiguous() for k, v in generator.state_dict().items()}, str(path))
    return path


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ru_maxrss carries the parent's peak across fork+exec, VmHWM does not."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _interleaved(fns: dict, repeats: int) -> dict:
    """name → (median wall s, best CPU s), the callables timed in turn (so both see the same machine load)
    for at least `repeats` rounds and 3 s. On a shared CPU, other processes only ever add time (to the wall
    clock and, through caches and frequency, to CPU time too), so the best CPU time is the steadiest figure."""
    walls = {name: [] for name in fns}
    cpus = {name: [] for name in fns}
    while True:
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
        rounds = len(next(iter(walls.values())))
        if rounds >= repeats and (sum(map(sum, walls.values())) >= 3.0 or rounds >= 50):
            return {name: (statistics.median(walls[name]), min(cpus[name])) for name in fns}


def _raw_call(backend: str, chosen, rgb, hole, settings, device: str):
    """The library itself on the whole image with the same dilated mask, loaded when called."""
    import numpy as np

    hole_u8 = hole.astype(np.uint8) * 255
    if backend == "opencv":
        import cv2

        cv2.setNumThreads(1)
        radius = max(3, min(15, settings.object_removal_dilate_px))
        return lambda: cv2.inpaint(rgb, hole_u8, radius, cv2.INPAINT_TELEA)
    if backend == "patchmatch":
        import patchmatch

        from models.object_removal.classical import PATCH_SIZE, SEED, source_band_exclusion

        band = source_band_exclusion(hole)  # the same source band as the wrapper, on the whole image

        def raw():
            patchmatch.set_random_seed(SEED)
            return patchmatch.inpaint(rgb, hole_u8, global_mask=band, patch_size=PATCH_SIZE)

        return raw
    import torch

    handle = chosen.load(device)
    image = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float().div(255).unsqueeze(0).to(handle.device)
    mask = torch.from_numpy(hole.astype(np.float32))[None, None].to(handle.device)

    def raw():
        with torch.inference_mode():
            return handle.descriptor(image, mask)[0].cpu()

    return raw


def run_case(backend: str, mode: str, side: int, device: str, repeats: int, weights: str | None) -> dict:
    """`raw`: the library call alone, for its peak RSS. `wrapper`: the wrapper's peak RSS (measured before
    the raw call runs), then both timed in turn."""
    import numpy as np

    from models.cache import ModelCache
    from models.contracts import CapabilityRequest, InputImage
    from models.object_removal import capability
    from models.object_removal.masks import dilate
    from models.registry import Registry

    photo, mask = _inputs(side)
    settings = _settings(weights)
    if backend == "lama":  # only this backend pays for importing torch
        import torch

        torch.set_num_threads(1)
    registry = Registry(ModelCache(2**34), device=device)
    registry.add(capability(settings))
    chosen = next(b for b in registry.get("object_removal").backends if b.name == backend)
    rgb = np.asarray(photo)
    hole = dilate(np.asarray(mask) > 0, settings.object_removal_dilate_px)
    if mode == "raw":
        _raw_call(backend, chosen, rgb, hole, settings, registry.device)()
        return {"peak_rss_mb": _peak_rss_mb()}
    request = lambda: CapabilityRequest("object_removal", "erase it", images=[InputImage(photo, None)],  # noqa: E731
                                        mask=mask)
    model = registry.run(request(), backend=chosen).images[0].recipe["model"]  # warm-up, loads the model
    peak = _peak_rss_mb()
    raw = _raw_call(backend, chosen, rgb, hole, settings, registry.device)
    raw()
    timings = _interleaved({"wrapper": lambda: registry.run(request(), backend=chosen), "raw": raw}, repeats)
    return {"wrapper": timings["wrapper"], "raw": timings["raw"], "peak_rss_mb": peak, "model": model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also LaMa at 1024² (slow on CPU)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from models.devices import resolve_device

    device = resolve_device(args.device)
    if args.case:
        backend, mode, side, weights = args.case.split(":", 3)
        print(json.dumps(run_case(backend, mode, int(side), device, args.repeats, weights or None)))
        return

    from models.object_removal.lama_backend import LamaBackend

    workdir = Path(tempfile.mkdtemp(prefix="bench_object_removal_"))
    weights = ""
    if LamaBackend(_settings(None)).status().state != "ready":
        weights = str(_random_lama(workdir))
        print("(no LaMa weights in the cache: lama rows use random weights, same architecture)")
    try:
        _print_table(args, device, weights)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the random weights are tens to hundreds of MB


def _print_table(args, device: str, weights: str) -> None:
    rows = []
    for backend in ("lama", "patchmatch", "opencv"):
        for side in SIDES:
            if backend == "lama" and side > 512 and device == "cpu" and not args.full:
                rows.append((backend, side, None, None))
                continue
            repeats = 1 if backend == "lama" and device == "cpu" else args.repeats
            result = {mode: _subprocess_case(f"{backend}:{mode}:{side}:{weights}", device, repeats)
                      for mode in ("wrapper", "raw")}
            rows.append((backend, side, result["wrapper"], result["raw"]["peak_rss_mb"]))
    print(f"\nobject removal, astronaut with a {MASK_FRACTION:.0%} elliptical mask, device {device}, 1 thread; wrapper "
          f"and raw timed in turn, >= {args.repeats} rounds and 3 s after a warm-up (LaMa on CPU: 1 round); median "
          f"wall s, best CPU s in brackets. The wrapper fills a crop around the mask, the raw call the whole image.\n")
    print("| backend | size | model | wrapper s (CPU s) | raw s (CPU s) | ratio | wrapper peak RSS MB | raw peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, side, result, raw_peak in rows:
        if result is None:
            print(f"| {backend} | {side}² | skipped on CPU (use --full) | – | – | – | – | – |")
            continue
        (wall, cpu), (raw_wall, raw_cpu) = result["wrapper"], result["raw"]
        ratio = cpu / raw_cpu if device == "cpu" else wall / raw_wall  # on a GPU the CPU mostly waits
        print(f"| {backend} | {side}² | {result['model']} | {wall:.3f} ({cpu:.3f}) | {raw_wall:.3f} ({raw_cpu:.3f}) | "
              f"{ratio:.2f} | {result['peak_rss_mb']:.0f} | {raw_peak:.0f} |")


def _subprocess_case(case: str, device: str, repeats: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--device", device, "--repeats", str(repeats), "--case", case],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
