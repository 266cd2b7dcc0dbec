"""Time to first result of every embedded capability: a fresh process's first request against a warm one.

For each capability a child process builds the registry exactly as the app does (`build_registry`), then
times its first request on a shipped photo (imports, model loads and library first-run costs included), then
the median of three more (warm). A second child does the same after `models.warmup.warm_embedded` — what
`app.py` runs in a background thread at start-up — and reports how long that warm-up took. Goal: first ≤
warm + 3 s. One inference thread. Run: `python bench/bench_first_use.py [--capability NAME]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from common import ROOT, setup

CAPABILITIES = ("background_removal", "object_removal", "style_transfer", "upscale", "face_swap")


def request_for(name: str):
    """The request a creator would send first, on photos that ship in packages."""
    import numpy as np
    from PIL import Image

    from models.contracts import CapabilityRequest, InputImage
    from quality_photos import photo

    if name == "background_removal":
        return CapabilityRequest(name, "remove the background", images=[InputImage(photo("astronaut", 512))])
    if name == "object_removal":
        image = photo("coffee", 512)
        painted = np.zeros((image.height, image.width), np.uint8)
        painted[250:330, 330:410] = 255  # the spoon's bowl
        return CapabilityRequest(name, "erase what I painted", images=[InputImage(image)],
                                 mask=Image.fromarray(painted, "L"))
    if name == "style_transfer":
        return CapabilityRequest(name, "make it look like starry night", params={"style_key": "starry_night"},
                                 images=[InputImage(photo("astronaut", 512))])
    if name == "upscale":
        return CapabilityRequest(name, "upscale it 4x", params={"scale": 4},
                                 images=[InputImage(photo("astronaut", 256))])
    if name == "face_swap":
        return CapabilityRequest(name, "swap my face onto this photo", context={"consent": True},
                                 images=[InputImage(photo("grace_hopper", 512)), InputImage(photo("astronaut", 512))])
    raise ValueError(name)


def child(name: str, warm: bool) -> dict:
    request_for(name)  # photo decoding and its imports happen before the clock starts
    started = time.perf_counter()
    from core.settings import Settings
    from models.cache import ModelCache
    from models.registry import build_registry

    settings = Settings.from_env()
    registry = build_registry(settings, ModelCache(8 * 2**30), device="cpu")
    build_seconds = time.perf_counter() - started
    warm_seconds = 0.0
    if warm:
        from models.warmup import warm_embedded

        began = time.perf_counter()
        warm_embedded(registry, capabilities=[name])
        warm_seconds = time.perf_counter() - began
    backend = registry.ready_backend(name)
    times = []
    for _ in range(4):
        request = request_for(name)  # decoding the photo is not the capability's time
        began = time.perf_counter()
        result = registry.run(request, backend=backend)
        times.append(time.perf_counter() - began)
    return {"backend": backend.name, "model": result.model_id, "build": build_seconds, "warmup": warm_seconds,
            "first": times[0], "warm": statistics.median(times[1:])}


def run_child(name: str, warm: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name] + (["--warm"] if warm else []),
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capability", choices=CAPABILITIES, action="append")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    setup()
    if args.child:
        print(json.dumps(child(args.child, args.warm)))
        return
    print("| capability | backend | fresh process: first request s | with start-up warm-up: warm-up s (background), "
          "then first request s | warm request s | first − warm, no warm-up / with it | goal ≤ 3 s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.capability or CAPABILITIES:
        cold, warmed = run_child(name, False), run_child(name, True)
        gap_cold, gap_warm = cold["first"] - cold["warm"], warmed["first"] - warmed["warm"]
        print(f"| {name} | {cold['backend']} ({cold['model']}) | {cold['first']:.2f} | {warmed['warmup']:.2f}, then "
              f"{warmed['first']:.2f} | {cold['warm']:.2f} | {gap_cold:+.2f} / {gap_warm:+.2f} | "
              f"{'met' if gap_cold <= 3 else 'missed'} without warm-up, {'met' if gap_warm <= 3 else 'missed'} with it |")


if __name__ == "__main__":
    main()
