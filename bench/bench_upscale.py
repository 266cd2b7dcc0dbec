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

import tempfile
from pathlib import Path

from common import interleaved, measure_rows, parse_args, peak_rss_mb, print_case, print_rows, setup, weights_dir

setup()

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
        return {"peak_rss_mb": peak_rss_mb()}
    request = lambda: CapabilityRequest("upscale", "upscale 4x", params={"scale": SCALE},  # noqa: E731
                                        images=[InputImage(photo, None)])
    model = registry.run(request(), backend=chosen).images[0].recipe["model"]  # warm-up, loads the model
    peak = peak_rss_mb()
    raw, _ = _raw_call(backend, chosen, photo, side, registry.device)
    raw()
    timings = interleaved({"wrapper": lambda: registry.run(request(), backend=chosen), "raw": raw}, repeats)
    return {"wrapper": timings["wrapper"], "raw": timings["raw"], "peak_rss_mb": peak, "model": model}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], "also Real-ESRGAN at 1024² (slow on CPU)")
    from models.devices import resolve_device

    device = resolve_device(args.device)
    if args.case:
        print_case(args.case, run_case, device, args.repeats)
        return

    from models.upscale.spandrel_backend import RealEsrganUpscaler

    with weights_dir("bench_upscale_") as workdir:
        weights = ""
        if RealEsrganUpscaler(_settings(None)).status().state != "ready":
            weights = str(_random_rrdbnet(workdir))
            print("(no Real-ESRGAN weights in the cache: realesrgan rows use random weights, same architecture)")
        _print_table(args, device, weights)


def _print_table(args, device: str, weights: str) -> None:
    rows = measure_rows(__file__, ("ncnn", "realesrgan", "lanczos"), OUTPUT_SIDES, "realesrgan", args, device, weights)
    print(f"\nupscale x{SCALE}, device {device}, 1 thread; wrapper and raw timed in turn, >= {args.repeats} rounds "
          f"and 3 s after a warm-up (Real-ESRGAN on CPU: 1 round); median wall s, best CPU s in brackets\n")
    print_rows(rows, device, "output")


if __name__ == "__main__":
    main()
