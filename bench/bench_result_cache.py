"""Benchmark of the result cache end to end: prints a table, asserts nothing.

The same request on the same 512² image through `Pipeline.process_message` (real store, registry and
embedded backends, one thread): recomputed (the cache turned off) against served from the cache (after one run
filled it). The image is referred to as a stored image (`image_ids`, as the UI's chips and "it" do) and, in a
second row per case, uploaded again as PNG bytes (the upload is decoded and stored before the lookup).
"Server ms" is the pipeline's own `timings_ms.total_ms`; "wall ms" adds the call around it. The neural cases
are the embedded SPAN x2 upscaler (ncnn) and the embedded neural style transfer (onnxruntime).

Run: `python bench/bench_result_cache.py [--repeats 5]` (offline, one thread).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: E402 - bench/ is sys.path[0] when run as a script

common.setup()
ROOT = common.ROOT

CASES = [("image_edit (Pillow, rotate)", "rotate it 90 degrees clockwise"),
         ("upscale 2x (SPAN, ncnn)", "upscale it 2x"),
         ("style transfer (neural, onnxruntime)", "make it look like a mosaic")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from PIL import Image
    from skimage import data

    from core.settings import Settings
    from pipeline.assemble import assemble
    from pipeline.boundary.identity import owner_from_token

    folder = Path(tempfile.mkdtemp(prefix="bench-result-cache-"))
    settings = Settings.from_env({}, data_dir=folder / "data", style_threads=1)
    parts = assemble(settings, "front")  # the parts as the app builds them
    store, pipe = parts.store, parts.pipeline
    parts.router.warm()
    owner = owner_from_token("bench-owner-token", settings.owner_secret)
    photo = Image.fromarray(data.astronaut()).resize((512, 512))
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    upload = buffer.getvalue()
    first = pipe.process_message("here is a photo", "", [upload], {"owner": owner})
    session, source = first.session_id, store.history(first.session_id, owner)[0].images[0].id

    def send(text, by_upload=False):
        started = time.perf_counter()
        images = [upload] if by_upload else []
        context = {"owner": owner} if by_upload else {"owner": owner, "image_ids": [source]}
        reply = pipe.process_message(text, session, images, context)
        wall = (time.perf_counter() - started) * 1000
        assert reply.type == "image", reply.message
        return reply, wall

    print(f"load average {os.getloadavg()[0]:.1f}; 512² input; medians of {args.repeats} runs\n")
    print("| case | input | recompute server ms | cache hit server ms | hit wall ms | speed-up | same bytes |")
    print("|---|---|---|---|---|---|---|")
    for name, text in CASES:
        for by_upload in (False, True):
            pipe.results.enabled = False
            send(text, by_upload)  # warm: model loaded, caches filled
            recompute = [send(text, by_upload)[0].metadata["timings_ms"]["total_ms"] for _ in range(args.repeats)]
            pipe.results.enabled = True
            filled, _ = send(text, by_upload)
            hits, walls, same = [], [], True
            for _ in range(args.repeats):
                reply, wall = send(text, by_upload)
                assert reply.metadata.get("cache_hit") is True
                hits.append(reply.metadata["timings_ms"]["total_ms"])
                walls.append(wall)
                same &= Path(reply.images[0].path).read_bytes() == Path(filled.images[0].path).read_bytes()
            slow, fast = statistics.median(recompute), statistics.median(hits)
            print(f"| {name} | {'upload' if by_upload else 'stored image'} | {slow:.1f} | {fast:.1f} | "
                  f"{statistics.median(walls):.1f} | {slow / fast:.0f}x | {same} |")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
