"""Every event the page registers is a public endpoint: hostile payloads sent straight to each one, over HTTP.

The fuzz test walks every dependency in the running app's `/config` (a new event is covered the day it lands)
and sends hypothesis-generated `data` and `event_data` full of what an attacker would try: paths of the owner
secret, the database and its WAL, another owner's stored image, `/dev/zero`, directories, FileData objects with
those paths or with URLs, forged chip values, odd types. Then: no answer carries or links any of those files, the
server logged no traceback, the other owner's chats are as they were and none of their images was copied into
another chat. The wedge test abandons sixteen sends (their run event never comes, as when a tab closes) in
sixteen chats whose next message is run, and another owner is still answered at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import threading
import time
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image

from tests.event_client import EventClient
from tests.server_util import serve_app

CANARY = "canary-owner-secret-" + "7f3a9c" * 4
VICTIM = "victim-owner-token-0123456789"
EXAMPLES = 6  # hostile payloads per event (each event is a separate endpoint)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory, "events", env={"GATEWAY_LOG_LEVEL": "INFO"})


@pytest.fixture(scope="module")
def victim(server, tmp_path_factory):
    """Another owner's chat with a stored image, made through the API before the attack."""
    from gradio_client import Client, handle_file

    photo = tmp_path_factory.mktemp("victim") / "mine.png"
    Image.new("RGB", (64, 48), (200, 30, 90)).save(photo)
    reply, _files = Client(server.url, verbose=False).predict(
        "make it black and white", [handle_file(str(photo))], None, "", VICTIM, {}, api_name="/chat")
    (server.data_dir / "owner_secret").write_text(CANARY + "\n")  # where an unconfigured secret would live
    image_id = reply["data"]["images"][0]["id"]
    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:
        path = db.execute("SELECT path FROM images WHERE id = ?", (image_id,)).fetchone()[0]
    return {"session_id": reply["session_id"], "image_id": image_id, "path": server.data_dir / "images" / path,
            "sessions": _sessions(server.url, VICTIM)}


def _sessions(url, owner):
    return requests.post(url + "gradio_api/run/list_sessions", json={"data": [owner]}, timeout=30).json()["data"][0]


def _hostile_paths(server, victim) -> list[str]:
    data = server.data_dir
    return [str(data / "owner_secret"), str(data / "gateway.sqlite3"), str(data / "gateway.sqlite3-wal"),
            str(victim["path"]), "/dev/zero", "/root", str(data), "/etc/passwd", "/nonexistent/file.png",
            f"{server.gradio_dir}/../{data.name}/owner_secret", "../../../../etc/passwd", "file:///etc/passwd"]


def _payloads(paths: list[str]):
    path = st.sampled_from(paths)
    filedata = st.builds(lambda p, url, name: {"path": p, "url": url, "orig_name": name, "size": 10, "mime_type":
                                               "image/png", "meta": {"_type": "gradio.FileData"}},
                         path, st.sampled_from([None, "http://127.0.0.1:9/x.png", "/gradio_api/file=" + paths[0]]),
                         st.sampled_from(["photo.png", "../secret", None]))
    chip = path.map(lambda p: json.dumps({"message": "erase it", "context": {"mask": p, "image_ids": ["0" * 64]}}))
    text = st.one_of(path, chip, st.text(max_size=40), st.just("x" * 5000), st.just("draft:" + "0" * 32))
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12), text, filedata)
    keys = st.sampled_from(["text", "files", "path", "value", "index", "mask", "context", "token", "session_id",
                            "draft", "background", "layers", "composite", "id", "message", "image_ids", "ui"])
    value = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                         max_leaves=12)
    state = st.fixed_dictionaries({"token": st.one_of(text, st.just("T" * 22)), "session_id": text}, optional={
        "draft": text}) | value
    box = st.fixed_dictionaries({"text": text, "files": st.lists(st.one_of(filedata, path), max_size=3)}) | value
    editor = st.fixed_dictionaries({"background": filedata | st.none(), "layers": st.lists(filedata, max_size=3),
                                    "composite": filedata | st.none(), "id": st.none() | text}) | value
    event = st.one_of(st.none(), st.fixed_dictionaries({"index": st.one_of(st.integers(-3, 50), st.lists(
        st.integers(-1, 5), max_size=2), st.none(), text), "value": st.one_of(value, box, chip)}))
    by_type = {"browserstate": state, "multimodaltextbox": box, "imageeditor": editor}
    return lambda types: st.fixed_dictionaries({"data": st.tuples(*[by_type.get(t, value) for t in types]),
                                                "event_data": event})


def test_every_event_refuses_hostile_input_without_reading_a_server_file(server, victim):
    client = EventClient(server.url)
    paths = _hostile_paths(server, victim)
    payloads = _payloads(paths)
    answers: list[str] = []
    log_before = len(server.log)
    for dep in client.dependencies:
        @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
        @given(payloads(client.input_types(dep)))
        def attack(payload):
            answers.append(client.call(dep, list(payload["data"]), payload["event_data"], timeout=60))

        attack()
    _attack_the_editor_blob_store(server, client, answers)

    everything = "\n".join(answers)
    assert CANARY not in everything and "SQLite format 3" not in everything
    victim_bytes = victim["path"].read_bytes()
    for url in set(re.findall(r'/gradio_api/file=[^"\s\\]+', everything)):
        served = requests.get(server.url.rstrip("/") + url, timeout=30)
        if served.status_code == 200:
            assert CANARY.encode() not in served.content and not served.content.startswith(b"SQLite format 3")
            assert hashlib.sha256(served.content).hexdigest() != victim["image_id"] and served.content != victim_bytes
    assert "Traceback" not in everything  # no answer shows a traceback
    ours = our_tracebacks(server.log[log_before:])
    assert not ours, ours[0][-4000:]
    assert requests.get(server.url, timeout=30).status_code == 200  # still serving
    assert _sessions(server.url, VICTIM) == victim["sessions"]  # nothing changed for the other owner
    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:
        foreign = db.execute("SELECT COUNT(*) FROM message_images mi JOIN messages m ON m.id = mi.message_id "
                             "WHERE mi.image_id = ? AND m.session_id != ?",
                             (victim["image_id"], victim["session_id"])).fetchone()[0]
        empty = db.execute("SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS "
                           "(SELECT 1 FROM messages m WHERE m.session_id = s.id)").fetchone()[0]
    assert foreign == 0 and empty == 0  # no copy of the victim's image elsewhere; no empty chat was left


SOURCE = re.compile(r'File "[^"]*/(?:ui|pipeline|models|core)/[^"]+\.py"|File "[^"]*/app\.py"')


def our_tracebacks(log: str) -> list[str]:
    """Tracebacks in the server log that went through the gateway's own code, other than a deliberate gr.Error
    (how a file endpoint refuses). Gradio also logs a traceback whenever it refuses a payload itself (a path that
    was not uploaded, a radio value that is not a choice, a select event without event data): those never
    reached our code and are not counted."""
    blocks = re.split(r"(?m)^(?=Traceback \(most recent call last\):)", log)
    found = []
    for block in blocks[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        last = next((line for line in lines if not line.startswith((" ", "Traceback", "\t"))), "")
        if SOURCE.search(block) and not last.startswith("gradio.exceptions.Error"):
            found.append(block)
    found += [line for line in log.splitlines() if "in the page event" in line or "while processing a message" in line]
    return found


def _attack_the_editor_blob_store(server, client, answers):
    """gr.ImageEditor's `accept_blobs` server function: odd types, huge layer indexes, many ids."""
    brush = next(c["id"] for c in client.config["components"] if c["props"].get("elem_id") == "brush")
    for index in ("999999999", "-1", "null", "0", "x"):
        for kind in ("layer", "background", "composite", "other"):
            form = {"type": kind, "index": index, "id": uuid.uuid4().hex, "component_id": str(brush),
                    "session_hash": "blobs", "fn_name": "accept_blobs"}
            answers.append(requests.post(server.url + "gradio_api/component_server", data=form, timeout=30,
                                         files={"file": ("x.png", b"\x89PNG" + b"0" * 1000)}).text)
    for data in ({"type": "layer", "index": 10**12}, None, "x", [1, 2]):
        answers.append(requests.post(server.url + "gradio_api/component_server", timeout=30, json={
            "data": data, "component_id": brush, "session_hash": "blobs", "fn_name": "accept_blobs"}).text)


def test_abandoned_sends_do_not_wedge_anybody(server):
    """Sixteen chats each get a message whose run never comes, then a second message that is run (it waits for
    the first one's expiry, not forever); meanwhile another owner's API chat is answered at once, and nothing of
    the abandoned messages is stored."""
    client = EventClient(server.url)
    on_run = client.dependency("run")
    finished, threads = [], []

    def chat_with_an_abandoned_message(i):
        tab, state = uuid.uuid4().hex[:11], {"token": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22],
                                            "session_id": "", "draft": f"draft:{uuid.uuid4().hex}"}
        client.send_only(f"abandoned message {i}", tab, state)  # the tab closes before its run event
        client.send_only(f"what can you do? ({i})", tab, state)
        finished.append(client.call(on_run, ["", state], session_hash=tab, timeout=120))

    for i in range(16):
        thread = threading.Thread(target=chat_with_an_abandoned_message, args=(i,))
        thread.start()
        threads.append(thread)
    time.sleep(1.0)
    started = time.perf_counter()  # the scripts' /chat shares the queue the page's runs used to hold
    answer = client.call(client.dependency("chat"), ["what can you do?", None, None, "", "bystander-owner-token-42",
                                                      {}], timeout=60)
    assert '"type":"text"' in answer and time.perf_counter() - started < 10, answer[-2000:]
    for thread in threads:
        thread.join(90)
    assert len(finished) == 16 and all("process_completed" in answer for answer in finished)
    with sqlite3.connect(server.data_dir / "gateway.sqlite3") as db:
        stored = db.execute("SELECT COUNT(*) FROM messages WHERE content LIKE 'abandoned message %'").fetchone()[0]
        answered = db.execute("SELECT COUNT(*) FROM messages WHERE content LIKE 'what can you do? (%'").fetchone()[0]
    assert stored == 0 and answered == 16
