"""Benchmark: cheap work never waits for a model. Prints tables and checks storage; run it on a quiet machine.

Starts the real app (`python app.py`, one inference thread, a fresh data dir) and measures, over raw HTTP
(`/gradio_api/upload`, then `/gradio_api/call/chat` + its SSE stream, with one Gradio session hash per client
as gradio_client sends; `--fresh-sessions` sends none), `--clients` concurrent clients each
sending `--rounds` cheap requests in turn: a text message ("hello …", the `chat` capability) and a rotation
of a freshly uploaded 160×120 image (`image_edit`, Pillow, no model). The latency of a request is from the
start of its upload (or call) to the SSE `complete` event; "pipeline" is the part spent in process_message
(the reply's timings), the rest is HTTP, Gradio's queue and the handler.

Two phases in the same run: **idle** (nothing else running) and **busy**, where a model client keeps one long
model run in progress the whole time: the embedded ncnn upscaler (SPAN x4, a real model) on a
`--model-side`² random image, re-submitted as soon as one finishes. The busy phase also reports how many
cheap requests overlapped a model run. Afterwards every client's session is read back: each message must be
stored exactly once, in order, with exactly one reply. Goal (issue 10): busy p95 ≤ 1.5 s with 20 clients,
0 errors.

Run: `python bench/bench_concurrency.py [--clients 20] [--rounds 4] [--model-side 400]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

for key, value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1",
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}.items():
    os.environ.setdefault(key, value)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import requests  # noqa: E402
from PIL import Image  # noqa: E402

from tests.server_util import Server, free_port  # noqa: E402

FILE_META = {"_type": "gradio.FileData"}


class Client:
    keep_session = True  # like gradio_client: one Gradio session per client (--fresh-sessions: one per call)

    def __init__(self, url: str, owner: str):
        self.url, self.owner = url, owner
        self.session_hash = uuid.uuid4().hex
        self.http = requests  # a fresh connection per call: a kept-alive one may be closed by the server meanwhile
        self.session_id = ""

    def upload(self, path: Path) -> dict:
        with open(path, "rb") as handle:
            r = self.http.post(f"{self.url}gradio_api/upload", files={"files": (path.name, handle, "image/png")},
                               timeout=120)
        r.raise_for_status()
        return {"path": r.json()[0], "orig_name": path.name, "meta": FILE_META}

    def call(self, endpoint: str, data: list):
        body = {"data": data, **({"session_hash": self.session_hash} if self.keep_session else {})}
        r = self.http.post(f"{self.url}gradio_api/call/{endpoint}", json=body, timeout=120)
        r.raise_for_status()
        text = self.http.get(f"{self.url}gradio_api/call/{endpoint}/{r.json()['event_id']}", timeout=600).text
        event = text.rsplit("event: ", 1)[-1]
        name, _, payload = event.partition("\ndata: ")
        if name.strip() != "complete":
            raise RuntimeError(f"{endpoint}: {event[:300]}")
        return json.loads(payload)

    def chat(self, text: str, images=(), context=None) -> dict:
        reply = self.call("chat", [text, list(images), None, self.session_id, self.owner, context or {}])[0]
        if reply.get("session_id"):
            self.session_id = reply["session_id"]
        return reply


def cheap_client(url: str, phase: str, index: int, rounds: int, photo: Path, results: list, sent: dict,
                 barrier) -> None:
    client = Client(url, f"bench-{phase}-owner-{index:03d}")
    sent[client.owner] = []
    barrier.wait()
    for step in range(rounds):
        kind = "text" if step % 2 == 0 else "rotate"
        text = (f"hello there, this is client {index} saying hi again ({step})" if kind == "text"
                else f"rotate it 90 degrees clockwise ({index}-{step})")
        started = time.perf_counter()
        try:
            images = [client.upload(photo)] if kind == "rotate" else []
            reply = client.chat(text, images)
            error = reply["error"]["code"] if reply["type"] == "error" else ""
        except Exception as exc:  # noqa: BLE001 - counted and shown, the benchmark goes on
            reply, error = {}, f"transport: {exc}"
        finished = time.perf_counter()
        sent[client.owner].append(text)
        metadata = reply.get("data", {}).get("metadata", {})
        results.append({"kind": kind, "seconds": finished - started, "start": started, "end": finished,
                        "error": error, "type": reply.get("type"), "capability": metadata.get("capability"),
                        "pipeline_s": metadata.get("timings_ms", {}).get("total_ms", 0) / 1000})


def model_client(url: str, big: Path, stop: threading.Event, runs: list, sent: dict) -> None:
    client = Client(url, "bench-model-owner-0001")
    sent[client.owner] = []
    while not stop.is_set():
        text = f"upscale it 4x (run {len(runs)})"
        started = time.perf_counter()
        reply = client.chat(text, [client.upload(big)], {"force_intent": "upscale"})
        sent[client.owner].append(text)
        runs.append({"start": started, "end": time.perf_counter(), "type": reply["type"],
                     "backend": reply["data"]["metadata"].get("backend"), "message": reply["message"][:90]})


def run_phase(url: str, phase: str, clients: int, rounds: int, photo: Path, sent: dict) -> tuple[list, float]:
    results: list = []
    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=cheap_client, args=(url, phase, i, rounds, photo, results, sent, barrier))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def table(title: str, results: list, wall: float) -> None:
    print(f"\n### {title}: {len(results)} requests in {wall:.1f} s\n")
    print("| requests | n | p50 s | p95 s | max s | errors | pipeline p50 s | pipeline p95 s |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("text", "rotate", "all"):
        rows = [r for r in results if kind == "all" or r["kind"] == kind]
        secs = [r["seconds"] for r in rows]
        inside = [r["pipeline_s"] for r in rows]
        errors = sum(1 for r in rows if r["error"])
        print(f"| {kind} | {len(rows)} | {statistics.median(secs):.3f} | {pct(secs, 95):.3f} | {max(secs):.3f} "
              f"| {errors} | {statistics.median(inside):.3f} | {pct(inside, 95):.3f} |")
    kinds = {}
    for r in results:
        key = f"{r['kind']}→{r['type']}/{r['capability']}" + (f" ({r['error']})" if r["error"] else "")
        kinds[key] = kinds.get(key, 0) + 1
    print("\nreplies: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))


def check_stored(url: str, sent: dict) -> list[str]:
    """Every sent message stored exactly once, in order, each with exactly one reply."""
    problems = []
    for owner, texts in sent.items():
        client = Client(url, owner)
        sessions = client.call("list_sessions", [owner])[0]
        messages = []
        for session in sorted(sessions, key=lambda s: s["created_at"]):
            messages += client.call("get_session", [session["session_id"], owner])[0]["messages"]
        users = [m for m in messages if m["role"] == "user"]
        replies = [m for m in messages if m["role"] == "assistant"]
        if [m["content"] for m in users] != texts:
            problems.append(f"{owner}: stored {len(users)} user messages for {len(texts)} sent (or out of order)")
        answered = [m["metadata"].get("user_message_id") for m in replies]
        if sorted(answered) != sorted(m["message_id"] for m in users):
            problems.append(f"{owner}: {len(replies)} replies for {len(users)} messages")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4, help="cheap requests per client, text and rotate in turn")
    parser.add_argument("--model-side", type=int, default=400, help="side of the image the model client upscales")
    parser.add_argument("--fresh-sessions", action="store_true",
                        help="no Gradio session hash: every call builds a new Gradio session (plain curl callers)")
    args = parser.parse_args()
    Client.keep_session = not args.fresh_sessions

    work = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    (work / "data").mkdir()
    rng = np.random.default_rng(0)
    photo, big = work / "photo.png", work / "big.png"
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(photo)
    Image.fromarray(rng.integers(0, 255, (args.model_side, args.model_side, 3), dtype=np.uint8)).save(big)
    load = os.getloadavg()
    print(f"# bench_concurrency: {args.clients} clients x {args.rounds} cheap requests "
          f"({'a new Gradio session per call' if args.fresh_sessions else 'one Gradio session per client'}); "
          f"{os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    server = Server(work / "data", free_port()).start()
    try:
        sent: dict = {}
        warm = Client(server.url, "bench-warm-owner-01")  # first use loads the router's text model
        warm.chat("hello")
        warm.chat("rotate it 90 degrees", [warm.upload(photo)])
        sent[warm.owner] = ["hello", "rotate it 90 degrees"]

        cpu = _cpu_seconds(server.proc.pid), time.process_time()
        idle, idle_wall = run_phase(server.url, "idle", args.clients, args.rounds, photo, sent)
        table("idle (no model run)", idle, idle_wall)
        print(f"\nCPU per cheap request: server {(_cpu_seconds(server.proc.pid) - cpu[0]) / len(idle) * 1000:.0f} ms, "
              f"this client process {(time.process_time() - cpu[1]) / len(idle) * 1000:.0f} ms")

        stop, runs = threading.Event(), []
        model = threading.Thread(target=model_client, args=(server.url, big, stop, runs, sent))
        model.start()
        while not runs and not _model_started(server):
            time.sleep(0.05)
        time.sleep(0.5)  # the model run is under way
        busy, busy_wall = run_phase(server.url, "busy", args.clients, args.rounds, photo, sent)
        stop.set()
        model.join()
        table(f"busy (one model run in progress: upscale 4x of {args.model_side}² on the ncnn backend)", busy, busy_wall)
        spans = [(r["start"], r["end"]) for r in runs]
        overlapped = sum(1 for r in busy if any(s < r["end"] and r["start"] < e for s, e in spans))
        durations = ", ".join(f"{end - start:.1f} s" for start, end in spans)
        first = runs[0] if runs else {"backend": "?", "message": ""}
        print(f"\nmodel runs: {len(runs)} ({durations}; {first['backend']}: {first['message']}); "
              f"{overlapped}/{len(busy)} cheap requests ran while a model run was in progress")

        problems = check_stored(server.url, sent)
        total = sum(len(t) for t in sent.values())
        print(f"\nstorage: {total} messages sent by {len(sent)} clients; "
              + ("every one stored exactly once with one reply" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems)))
        secs = [r["seconds"] for r in busy]
        goal = pct(secs, 95) <= 1.5 and not any(r["error"] for r in busy) and not problems
        print(f"\ngoal (busy p95 ≤ 1.5 s, 0 errors, stored once): {'met' if goal else 'NOT met'} "
              f"(p95 {pct(secs, 95):.3f} s); load average now {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _model_started(server) -> bool:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{server.data_dir / 'gateway.sqlite3'}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM messages WHERE content LIKE 'upscale it 4x%'").fetchone()[0] > 0
        finally:
            conn.close()
    except sqlite3.Error:
        return False


if __name__ == "__main__":
    main()
