"""Benchmark of the upscale backends against the raw library call on the same input, one thread.

The wrapper (`Registry.run` → backend → tiling, conversions, recipe) and the raw call (ncnn extractor /
spandrel descriptor / PIL resize on the whole image) at x4 to 512² and 1024² outputs. Each peak RSS comes
from its own subprocess (imports included); the timings are taken in one process, wrapper and raw in
turn, at least `--repeats` rounds and 3 s after a warm-up that also loads the model (median wall time,
best CPU time). On CPU the ratio compares the CPU times, on a GPU the wall times. Without Real-ESRGAN
weights in the cache the `realesrgan` rows use the real RRDBNet architecture (64 features, 23 blocks) with
random weights: same compute, no download. Real-ESRGAN takes ~10 s at 512² on one CPU core, so its 1024²
row needs `--full` there.

    python bench/bench_upscale.py [--full] [--device auto|cpu|cuda] [--repeats 5]
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

SCALE = 4
OUTPUT_SIDES = (512, 1024)


def _photo(side: int):
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BICUBIC)


def _settings(realesrgan_weights: str | None):
    from core.settings import Settings

    overrides = {"data_dir": Path(tempfile.gettempdir()) / "bench_upscale",
                 "upscale_realesrgan_ncnn_max_pixels": 0}  # SPAN for every size (the photo default)
    if realesrgan_weights:
        overrides["upscale_model"] = realesrgan_weights
    return Settings.from_env({}, **overrides)


def _random_rrdbnet(folder: Path) -> Path:
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    path = folder / "random_RealESRGAN_x4plus_architecture.pth"
    if not path.exists():
        torch.save(ESRGAN(num_filters=64, num_blocks=23, scale=4).state_dict(), path)
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


def _raw_call(backend: str, chosen, photo, side: int, device: str):
    """(callable, label): the library itself on the whole input, loaded when called."""
    import numpy as np

    if backend == "ncnn":
        import ncnn

        from models.upscale.ncnn_backend import MODELS, cpu_threads

        net = chosen.load(device).net(MODELS["spanx4_ch48"])
        pixels = np.asarray(photo)

        def raw():
            mat = ncnn.Mat.from_pixels(pixels, ncnn.Mat.PixelType.PIXEL_RGB, photo.width, photo.height)
            mat.substract_mean_normalize([], [1 / 255.0] * 3)
            extractor = net.create_extractor()
            extractor.input("data", mat)
            out = np.array(extractor.extract("output")[1])
            return (np.clip(out.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)

        return raw, f"spanx4_ch48 ({cpu_threads()} thread)"
    if backend == "realesrgan":
        import torch

        from models.upscale.spandrel_backend import load_sr_descriptor
        from models.weights import fetch

        descriptor = load_sr_descriptor(fetch(chosen._source(), allow_download=False), device)
        tensor = torch.from_numpy(np.asarray(photo, dtype=np.float32).transpose(2, 0, 1) / 255).unsqueeze(0)
        tensor = tensor.to(device, next(descriptor.model.parameters()).dtype)

        def raw():
            with torch.inference_mode():
                return descriptor(tensor)[0].float().permute(1, 2, 0).cpu().numpy()

        return raw, chosen._source().label
    from PIL import Image

    return (lambda: photo.resize((side, side), Image.Resampling.LANCZOS)), "PIL Lanczos"


def run_case(backend: str, mode: str, side: int, device: str, repeats: int, weights: str | None) -> dict:
    """`raw`: the library call alone, for its peak RSS. `wrapper`: the wrapper's peak RSS (measured before
    the raw call runs), then both timed in turn."""
    from models.cache import ModelCache
    from models.contracts import CapabilityRequest, InputImage
    from models.registry import Registry
    from models.upscale import capability

    photo = _photo(side // SCALE)
    if backend == "realesrgan":  # only this backend pays for importing torch
        import torch

        torch.set_num_threads(1)
    registry = Registry(ModelCache(2**34), device=device)
    registry.add(capability(_settings(weights)))
    chosen = next(b for b in registry.get("upscale").backends if b.name == backend)
    if mode == "raw":
        raw, _ = _raw_call(backend, chosen, photo, side, registry.device)
        raw()
        return {"peak_rss_mb": _peak_rss_mb()}
    request = lambda: CapabilityRequest("upscale", "upscale 4x", params={"scale": SCALE},  # noqa: E731
                                        images=[InputImage(photo, None)])
    model = registry.run(request(), backend=chosen).images[0].recipe["model"]  # warm-up, loads the model
    peak = _peak_rss_mb()
    raw, _ = _raw_call(backend, chosen, photo, side, registry.device)
    raw()
    timings = _interleaved({"wrapper": lambda: registry.run(request(), backend=chosen), "raw": raw}, repeats)
    return {"wrapper": timings["wrapper"], "raw": timings["raw"], "peak_rss_mb": peak, "model": model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also Real-ESRGAN at 1024² (slow on CPU)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from models.devices import resolve_device

    device = resolve_device(args.device)
    if args.case:
        backend, mode, side, weights = args.case.split(":", 3)
        print(json.dumps(run_case(backend, mode, int(side), device, args.repeats, weights or None)))
        return

    from models.upscale.spandrel_backend import RealEsrganUpscaler

    workdir = Path(tempfile.mkdtemp(prefix="bench_upscale_"))
    weights = ""
    if RealEsrganUpscaler(_settings(None)).status().state != "ready":
        weights = str(_random_rrdbnet(workdir))
        print("(no Real-ESRGAN weights in the cache: realesrgan rows use random weights, same architecture)")
    try:
        _print_table(args, device, weights)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the random weights are tens to hundreds of MB


def _print_table(args, device: str, weights: str) -> None:
    rows = []
    for backend in ("ncnn", "realesrgan", "lanczos"):
        for side in OUTPUT_SIDES:
            if backend == "realesrgan" and side > 512 and device == "cpu" and not args.full:
                rows.append((backend, side, None, None))
                continue
            repeats = 1 if backend == "realesrgan" and device == "cpu" else args.repeats
            result = {mode: _subprocess_case(f"{backend}:{mode}:{side}:{weights}", device, repeats)
                      for mode in ("wrapper", "raw")}
            rows.append((backend, side, result["wrapper"], result["raw"]["peak_rss_mb"]))
    print(f"\nupscale x{SCALE}, device {device}, 1 thread; wrapper and raw timed in turn, >= {args.repeats} rounds "
          f"and 3 s after a warm-up (Real-ESRGAN on CPU: 1 round); median wall s, best CPU s in brackets\n")
    print("| backend | output | model | wrapper s (CPU s) | raw s (CPU s) | ratio | wrapper peak RSS MB | raw peak RSS MB |")
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
