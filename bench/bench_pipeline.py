"""Benchmark of the gateway's own overhead (not the models'): prints tables, asserts nothing.

1. pipeline overhead per message, excluding the capability's run time, p50/p95 over N warm messages
   (text chat, and a 512² image_edit where the Pillow operation's own time is subtracted);
2. store: write per message (text, and with a 512² PNG) and history read (last 50 of a session);
3. image encoding of a 512² and a 1024² result (ours: fpng, vs the raw fpng and Pillow calls and JPEG);
4. end-to-end `/chat` latency for a 512² image_edit request over HTTP (/call + SSE) and over gradio_client,
   next to a bare gradio no-op endpoint measured the same way in the same run.

Run: `python bench/bench_pipeline.py [--messages 500] [--http 30]` (one thread, offline).
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

for key, value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1",
                   "OMP_NUM_THREADS": "1"}.items():
    os.environ.setdefault(key, value)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def row(name, values_ms, extra=""):
    print(f"| {name} | {statistics.median(values_ms):.2f} | {pct(values_ms, 95):.2f} | {len(values_ms)} | {extra} |")


def build(data_dir: Path):
    """The pipeline as the app builds it (pipeline/assemble.py), on a data folder of its own."""
    from core.settings import Settings
    from models.cache import ModelCache
    from pipeline.assemble import assemble

    parts = assemble(Settings.from_env({}, data_dir=data_dir), "front", cache=ModelCache(2**30))
    parts.router.warm()
    return parts.pipeline, parts.store


def bench_pipeline(n: int, photo_png: bytes):
    from pipeline.boundary.identity import owner_from_token

    owner = owner_from_token("bench-owner-token", "s")
    with tempfile.TemporaryDirectory() as tmp:
        pipe, store = build(Path(tmp))
        first = pipe.process_message("make it brighter", "", [photo_png], {"owner": owner})
        sid = first.session_id
        text_overhead, edit_overhead, store_ms, classify_ms, encode_ms = [], [], [], [], []
        for i in range(n):
            r = pipe.process_message("what can you do?", sid, [], {"owner": owner})
            t = r.metadata["timings_ms"]
            text_overhead.append(t["total_ms"] - t.get("route_ms", 0))
        for i in range(max(20, n // 10)):
            r = pipe.process_message("make it a bit brighter", sid, [], {"owner": owner})
            t = r.metadata["timings_ms"]
            backend_ms = r.metadata.get("backend_seconds", 0) * 1000
            edit_overhead.append(t["total_ms"] - backend_ms)
            store_ms.append(t["store_ms"])
            classify_ms.append(t["classify_ms"])
            encode_ms.append(t["format_ms"])
        print("\n## Pipeline overhead per message (warm, excluding the capability's run time)\n")
        print("| what | p50 ms | p95 ms | n | note |\n|---|---|---|---|---|")
        row("text message (classify, refine, route, format, store)", text_overhead)
        row("512² image_edit: everything but the Pillow op", edit_overhead, "includes loading the latest image, PNG encode, file write")
        row("  of which classify (router: MiniLM path for this phrase)", classify_ms, "router budget: p95 ≤ 25 ms")
        row("  of which format (PNG encode of the 512² result)", encode_ms)
        row("  of which storing the reply + image", store_ms)

        print("\n## Store\n")
        print("| what | p50 ms | p95 ms | n | note |\n|---|---|---|---|---|")
        write_text, write_img, read = [], [], []
        from pipeline.store import NewImage

        for i in range(300):
            t = time.perf_counter()
            store.add_message(sid, owner, "user", f"message {i}")
            write_text.append((time.perf_counter() - t) * 1000)
        for i in range(50):
            data = photo_png[:-12] + i.to_bytes(4, "big") + photo_png[-8:]  # unique bytes, same size
            t = time.perf_counter()
            store.add_message(sid, owner, "assistant", "x", new_images=[NewImage(data=data, width=512, height=512)])
            write_img.append((time.perf_counter() - t) * 1000)
        for i in range(300):
            t = time.perf_counter()
            store.history(sid, owner, limit=50)
            read.append((time.perf_counter() - t) * 1000)
        row("add_message, text", write_text)
        row("add_message + 512² PNG file", write_img, "sha256 + fsync'd atomic write")
        row("history, last 50 messages with images", read, f"session of {store.message_count(sid, owner)} messages")
        store.close()


def bench_encoding():
    from PIL import Image
    from skimage import data

    from core.images import encode_png

    print("\n## Encoding a result (ours = core.images.encode_png: fpng for RGB/RGBA, text chunks spliced in)\n")
    print("| format | p50 ms | p95 ms | n | bytes |\n|---|---|---|---|---|")
    for side in (512, 1024):
        img = Image.fromarray(data.astronaut()).resize((side, side), Image.LANCZOS)
        rgba = img.convert("RGBA")
        rows = [
            (f"{side}² PNG RGB, ours", lambda: encode_png(img, text={"gateway_recipe": "{}"})),
            (f"{side}² PNG RGBA, ours", lambda: encode_png(rgba, text={"gateway_recipe": "{}"})),
            (f"{side}² PNG RGB, raw Pillow compress_level=1", lambda: _save(img, "PNG", compress_level=1)),
            (f"{side}² PNG RGB, raw Pillow default (6)", lambda: _save(img, "PNG")),
            (f"{side}² JPEG q90 (raw Pillow)", lambda: _save(img, "JPEG", quality=90)),
        ]
        try:
            import fpng

            rows.insert(2, (f"{side}² PNG RGB, raw fpng.from_pil", lambda: fpng.from_pil(img)))
        except ImportError:
            pass
        for name, fn in rows:
            times, size = [], 0
            for _ in range(15):
                t = time.perf_counter()
                size = len(fn())
                times.append((time.perf_counter() - t) * 1000)
            row(name, times, f"{size:,}")


def _save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def bench_http(n: int, photo_path: Path):
    import gradio as gr
    import requests
    from gradio_client import Client, handle_file

    from tests.server_util import Server, free_port

    noop = gr.Blocks()
    with noop:
        a, b = gr.Textbox(), gr.Textbox()
        gr.Button().click(lambda x: x, a, b, api_name="noop")
    noop.queue()
    _, noop_url, _ = noop.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        server = Server(data, free_port()).start()
        try:
            owner = "bench-http-owner"
            client = Client(server.url, verbose=False)
            noop_client = Client(noop_url, verbose=False)
            first, _ = client.predict("make it brighter", [handle_file(str(photo_path))], None, "", owner, {}, api_name="/chat")
            sid = first["session_id"]
            upload = requests.post(server.url + "gradio_api/upload", files={"files": open(photo_path, "rb")}).json()[0]
            file_data = {"path": upload, "meta": {"_type": "gradio.FileData"}}

            def http_call(url, name, payload):
                t = time.perf_counter()
                event = requests.post(f"{url}gradio_api/call/{name}", json={"data": payload}).json()["event_id"]
                with requests.get(f"{url}gradio_api/call/{name}/{event}", stream=True) as r:
                    for line in r.iter_lines():
                        if line.startswith(b"event: complete") or line.startswith(b"event: error"):
                            break
                return (time.perf_counter() - t) * 1000

            results = {k: [] for k in ("noop_http", "chat_http", "noop_client", "chat_client", "chat_backend")}
            for _ in range(n):
                results["noop_http"].append(http_call(noop_url, "noop", ["x"]))
                results["chat_http"].append(http_call(server.url, "chat",
                                                      ["make it a bit brighter", [file_data], None, sid, owner, {}]))
                t = time.perf_counter()
                noop_client.predict("x", api_name="/noop")
                results["noop_client"].append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                resp, _ = client.predict("make it a bit brighter", [handle_file(str(photo_path))], None, sid, owner, {}, api_name="/chat")
                results["chat_client"].append((time.perf_counter() - t) * 1000)
                results["chat_backend"].append(resp["data"]["metadata"]["timings_ms"]["total_ms"])
            print("\n## End-to-end /chat, 512² image_edit with an uploaded image, vs a bare gradio no-op\n")
            print("| what | p50 ms | p95 ms | n | note |\n|---|---|---|---|---|")
            row("bare gradio no-op over HTTP /call + SSE", results["noop_http"])
            row("/chat image_edit over HTTP /call + SSE", results["chat_http"], "upload done once beforehand")
            row("bare gradio no-op over gradio_client", results["noop_client"])
            row("/chat image_edit over gradio_client", results["chat_client"], "includes upload + download of the PNG")
            row("  of which process_message (server side)", results["chat_backend"])
        finally:
            server.stop()
            noop.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--http", type=int, default=30)
    args = parser.parse_args()
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    buf = io.BytesIO()
    photo.save(buf, format="PNG")
    with tempfile.TemporaryDirectory() as tmp:
        photo_path = Path(tmp) / "astronaut.png"
        photo_path.write_bytes(buf.getvalue())
        bench_pipeline(args.messages, buf.getvalue())
        bench_encoding()
        if args.http:
            bench_http(args.http, photo_path)


if __name__ == "__main__":
    main()
