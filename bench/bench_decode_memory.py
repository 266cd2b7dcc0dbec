"""Memory under decompression bombs: eight tiny 16-bit PNGs of 6000x6600 pixels sent to the running app at once.

Each file is ~80 KB on the wire and ~40 megapixels once decoded. The gateway counts every message's decode
cost from the file headers against one budget shared by all requests (GATEWAY_DECODE_BUDGET_MB) and converts
16-bit grey through a lookup table, so the server's memory stays bounded however many arrive together. The
"raw" row decodes the same eight files at once in a subprocess the way a naive server would (Pillow open, load,
the float stretch to 8 bits that numpy makes easy, convert to RGB), for comparison in the same run.

Usage: python bench/bench_decode_memory.py [--files 8] [--message "make it black and white"]
Prints the server's resident memory before and at its peak, the growth, the replies and the wall time.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common

common.setup()

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.server_util import Server, free_port  # noqa: E402

RAW = """
import sys, threading, numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
def decode(path):
    img = Image.open(path); img.load()
    arr = np.asarray(img, dtype=np.float64)
    grey = ((arr - arr.min()) / max(1.0, arr.max() - arr.min()) * 255).round().astype("uint8")
    Image.fromarray(grey, "L").convert("RGB")
threads = [threading.Thread(target=decode, args=(p,)) for p in sys.argv[1:]]
[t.start() for t in threads]; [t.join() for t in threads]
print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024)
"""


def bomb(path: Path) -> Path:
    arr = np.zeros((6600, 6000), np.uint16)
    arr[::97, :] = 40000  # a few lines, so the stretch has a range; still compresses to almost nothing
    Image.fromarray(arr).save(path, optimize=True)
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--message", default="make it black and white")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-bombs-"))
    files = [bomb(work / f"bomb-{i}.png") for i in range(args.files)]
    print(f"{args.files} files of {files[0].stat().st_size / 1024:.0f} KB, 6000x6600 16-bit grey each")

    raw = subprocess.run([sys.executable, "-c", RAW, *map(str, files)], capture_output=True, text=True, check=True)
    raw_peak = float(raw.stdout.strip().splitlines()[-1])
    print(f"raw decode of all {args.files} at once (naive): peak {raw_peak:,.0f} MB in a fresh process")

    (work / "data").mkdir()
    server = Server(work / "data", free_port()).start()
    try:
        from gradio_client import Client, handle_file

        time.sleep(15)  # let the start-up warm-up settle
        before = rss_mb(server.proc.pid)
        peak, done = [before], threading.Event()

        def sample():
            while not done.wait(0.05):
                peak.append(rss_mb(server.proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        replies = [None] * args.files

        def send(i):
            client = Client(server.url, verbose=False)
            replies[i] = client.predict(args.message, [handle_file(str(files[i]))], None, "",
                                        f"bench-bomb-owner-{i:04d}-token", {}, api_name="/chat")[0]

        started = time.perf_counter()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(args.files)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        top = max(peak)
        kinds = {}
        for reply in replies:
            key = reply["type"] if reply["type"] != "error" else f"error:{reply['error']['code']}"
            kinds[key] = kinds.get(key, 0) + 1
        print(f"gateway: RSS before {before:,.0f} MB, peak {top:,.0f} MB, growth {top - before:,.0f} MB "
              f"({(top - before) / 1024:.2f} GB) in {wall:.1f} s; replies {kinds}")
        print(f"ratio of growth to the naive decode's peak: {(top - before) / raw_peak:.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
