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

import tempfile
from pathlib import Path

from common import interleaved, measure_rows, parse_args, peak_rss_mb, print_case, print_rows, setup, weights_dir

setup()

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
        return {"peak_rss_mb": peak_rss_mb()}
    request = lambda: CapabilityRequest("object_removal", "erase it", images=[InputImage(photo, None)],  # noqa: E731
                                        mask=mask)
    model = registry.run(request(), backend=chosen).images[0].recipe["model"]  # warm-up, loads the model
    peak = peak_rss_mb()
    raw = _raw_call(backend, chosen, rgb, hole, settings, registry.device)
    raw()
    timings = interleaved({"wrapper": lambda: registry.run(request(), backend=chosen), "raw": raw}, repeats)
    return {"wrapper": timings["wrapper"], "raw": timings["raw"], "peak_rss_mb": peak, "model": model}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], "also LaMa at 1024² (slow on CPU)")
    from models.devices import resolve_device

    device = resolve_device(args.device)
    if args.case:
        print_case(args.case, run_case, device, args.repeats)
        return

    from models.object_removal.lama_backend import LamaBackend

    with weights_dir("bench_object_removal_") as workdir:
        weights = ""
        if LamaBackend(_settings(None)).status().state != "ready":
            weights = str(_random_lama(workdir))
            print("(no LaMa weights in the cache: lama rows use random weights, same architecture)")
        _print_table(args, device, weights)


def _print_table(args, device: str, weights: str) -> None:
    rows = measure_rows(__file__, ("lama", "patchmatch", "opencv"), SIDES, "lama", args, device, weights)
    print(f"\nobject removal, astronaut with a {MASK_FRACTION:.0%} elliptical mask, device {device}, 1 thread; wrapper "
          f"and raw timed in turn, >= {args.repeats} rounds and 3 s after a warm-up (LaMa on CPU: 1 round); median "
          f"wall s, best CPU s in brackets. The wrapper fills a crop around the mask, the raw call the whole image.\n")
    print_rows(rows, device, "size")


if __name__ == "__main__":
    main()
