"""Deployment: where the real app listens, that no response reveals the owner secret, and sessions that survive
a restart through the backup folder (SIGTERM, and kill -9 once a snapshot interval has passed).

Every test here runs `python app.py` (tests/server_util.py) and talks to it over plain HTTP like a browser or a
script: the page, `/config`, and every named API endpoint.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.server_util import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
ALICE = "alice-deploy-token-1"


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("in") / "astronaut.png"
    Image.fromarray(data.astronaut()[::2, ::2]).save(path)
    return path


def listening_addresses(port: int) -> set[str]:
    """Addresses with a socket in LISTEN state on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def call(server: Server, name: str, data: list) -> tuple[list, str]:
    """Call a named endpoint over HTTP (/gradio_api/call + SSE): (its outputs, every byte received)."""
    posted = requests.post(f"{server.url}gradio_api/call/{name}", json={"data": data}, timeout=30)
    posted.raise_for_status()
    stream = requests.get(f"{server.url}gradio_api/call/{name}/{posted.json()['event_id']}", timeout=300).text
    payload = [line[6:] for line in stream.splitlines() if line.startswith("data: ")][-1]
    return json.loads(payload), posted.text + stream


def upload(server: Server, path: Path) -> dict:
    with open(path, "rb") as handle:
        answer = requests.post(f"{server.url}gradio_api/upload", files={"files": handle}, timeout=30)
    answer.raise_for_status()
    return {"path": answer.json()[0], "meta": {"_type": "gradio.FileData"}}


def chat(server: Server, text: str, photo: Path, owner: str = ALICE, session_id: str = "") -> tuple[dict, str]:
    (response, files), raw = call(server, "chat", [text, [upload(server, photo)], None, session_id, owner, {}])
    return response, raw


# ---- listening ------------------------------------------------------------------------------------------------
def test_a_plain_start_listens_on_loopback_only(tmp_path):
    port = free_port()
    server = Server(tmp_path / "data", port, env={"GATEWAY_HOST": None, "GATEWAY_PORT": None,
                                                  "GRADIO_SERVER_PORT": str(port)})
    (tmp_path / "data").mkdir()
    server.start()
    try:
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        server.stop()


# ---- a Space: 0.0.0.0, a generated secret that nothing sent to a client reveals ----------------------------------
@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """The app as a Space starts it: SPACE_ID and GRADIO_SERVER_NAME=0.0.0.0 set, no GATEWAY_HOST, no secret."""
    root = tmp_path_factory.mktemp("space")
    (root / "data").mkdir()
    port = free_port()
    server = Server(root / "data", port, env={
        "GATEWAY_HOST": None, "GATEWAY_PORT": None, "GATEWAY_OWNER_SECRET": None, "GATEWAY_LOG_LEVEL": "INFO",
        "SPACE_ID": "someone/ai-image-gateway", "SYSTEM": "spaces", "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": str(port), "PYTHONUNBUFFERED": "1"})  # unbuffered: the log keeps the real order
    server.start()
    yield server
    server.stop()


def test_on_a_space_it_listens_on_all_interfaces(space):
    assert listening_addresses(space.port) == {"0.0.0.0"}


def test_the_generated_secret_is_kept_in_the_data_dir_and_the_log_says_where_to_set_it(space):
    secret = (space.data_dir / "owner_secret").read_text().strip()
    assert len(secret) >= 40 and (space.data_dir / "owner_secret").stat().st_mode & 0o777 == 0o600
    deadline = time.time() + 30
    while "Secret" not in space.log and time.time() < deadline:
        time.sleep(0.5)
    assert "huggingface.co/spaces/someone/ai-image-gateway/settings" in space.log and "Secret" in space.log
    assert secret not in space.log


def test_no_response_reveals_the_owner_secret_or_its_owner_id_key(space, photo):
    from pipeline.boundary.identity import browser_state_key, export_key

    secret = (space.data_dir / "owner_secret").read_text().strip()
    forbidden = {"owner secret": secret, "export-name key": export_key(secret)}
    received = []
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        answer = requests.get(space.url + path, timeout=30)
        assert answer.status_code == 200, path
        received.append(answer.text)
    # The browser-state key is in the page by design (Gradio encrypts in the browser): it must not be the secret.
    assert browser_state_key(secret) in received[1] and browser_state_key(secret) != secret
    reply, raw = chat(space, "make it black and white", photo)
    received.append(raw)
    session_id, image_id = reply["session_id"], reply["data"]["images"][0]["id"]
    for name, data in (("list_sessions", [ALICE]), ("get_session", [session_id, ALICE]),
                       ("get_image", [image_id, ALICE]), ("capabilities", []),
                       ("delete_session", [session_id, ALICE])):
        (output,), raw = call(space, name, data)
        received.append(raw)
        if name == "get_image":  # the file itself, through the URL Gradio gave
            received.append(requests.get(output["url"], timeout=30).content.decode("latin-1"))
    everything = "\n".join(received)
    for what, value in forbidden.items():
        assert value not in everything, f"the {what} was sent to a client"
    # The owner ids the store keeps are HMACs keyed with the secret: none may reach a client either.
    from pipeline.boundary.identity import owner_from_token

    assert owner_from_token(ALICE, secret) not in everything


def test_capabilities_carry_the_start_up_block(space):
    (output,), _ = call(space, "capabilities", [])
    runtime = output["runtime"]
    assert runtime["platform"] == "space" and runtime["space_id"] == "someone/ai-image-gateway"
    assert runtime["downloads"]["allowed"] is False and "HF_HUB_OFFLINE" in runtime["downloads"]["why_not"]
    serving = {c["capability"]: c["serving"] for c in runtime["capabilities"]}
    assert serving["image_edit"]["backend"] == "pillow" and serving["image_edit"]["weights"] == "embedded"
    assert serving["image_generation"] is None  # no weights here and downloads off: said plainly
    deadline = time.time() + 60
    while "device:" not in space.log and time.time() < deadline:
        time.sleep(0.5)
    assert "device: cpu" in space.log and "onnxruntime" in space.log and "image_edit: pillow" in space.log


def test_the_start_up_block_comes_before_gradios_banners_and_no_event_loop_traceback(space):
    deadline = time.time() + 60
    while "Streamable HTTP URL" not in space.log and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # the abandoned event loops used to be finalised (noisily) in the seconds after the banners
    log = space.log
    assert log.index("platform: space") < log.index("device: cpu") < log.index("Running on local URL")
    assert "Exception ignored" not in log and "Invalid file descriptor" not in log, log[-3000:]


# ---- sessions survive a restart through the backup folder --------------------------------------------------------
def _sessions(server: Server) -> dict:
    (listing,), _ = call(server, "list_sessions", [ALICE])
    out = {}
    for row in listing:
        (session,), _ = call(server, "get_session", [row["session_id"], ALICE])
        images = {}
        for message in session["messages"]:
            for image in message["images"]:
                (file,), _ = call(server, "get_image", [image["id"], ALICE])
                images[image["id"]] = requests.get(file["url"], timeout=30).content
        out[row["session_id"]] = ([(m["role"], m["content"]) for m in session["messages"]], images)
    return out


def _backup_server(root: Path, port: int, **env) -> Server:
    return Server(root / "data", port, env={"GATEWAY_BACKUP_DIR": str(root / "bucket"), "GATEWAY_LOG_LEVEL": "INFO",
                                            **env})


def test_sessions_come_back_from_the_backup_after_sigterm_and_a_wiped_data_dir(tmp_path, photo):
    port = free_port()
    (tmp_path / "data").mkdir()
    first = _backup_server(tmp_path, port, GATEWAY_BACKUP_INTERVAL_S="3600").start()
    try:
        one, _ = chat(first, "make it black and white", photo)
        chat(first, "rotate it 90 degrees", photo, session_id=one["session_id"])
        chat(first, "flip it horizontally", photo)
        before = _sessions(first)
    finally:
        first.stop()  # SIGTERM: the clean shutdown takes the snapshot (the interval never passed)
    assert first.proc.returncode is not None and "backup: snapshot" in first.log
    shutil.rmtree(tmp_path / "data")  # a Space restart: the local disk is gone
    second = _backup_server(tmp_path, port, GATEWAY_BACKUP_INTERVAL_S="3600").start()
    try:
        assert "backup: restored" in second.log
        after = _sessions(second)
    finally:
        second.stop()
    assert len(before) == 2 and sum(len(images) for _, images in before.values()) >= 4
    assert after == before  # the same sessions, messages and image bytes


def test_after_kill_9_the_last_interval_snapshot_comes_back_with_the_generated_secret(tmp_path, photo):
    port = free_port()
    (tmp_path / "data").mkdir()
    env = {"GATEWAY_BACKUP_INTERVAL_S": "1", "GATEWAY_OWNER_SECRET": None}
    first = _backup_server(tmp_path, port, **env).start()
    try:
        chat(first, "make it black and white", photo)
        chat(first, "flip it vertically", photo)
        before = _sessions(first)
        wanted = sum(len(images) for _, images in before.values())
        manifest = tmp_path / "bucket" / "manifest.json"
        deadline = time.time() + 60
        while time.time() < deadline:  # one interval after the last write, a snapshot holds everything
            if manifest.exists() and json.loads(manifest.read_text())["images"] >= wanted:
                break
            time.sleep(0.5)
        time.sleep(2.5)
    finally:
        first.kill()  # kill -9: no shutdown code runs
    secret = (tmp_path / "data" / "owner_secret").read_text()
    shutil.rmtree(tmp_path / "data")
    second = _backup_server(tmp_path, port, **env).start()
    try:
        after = _sessions(second)
    finally:
        second.stop()
    assert (tmp_path / "data" / "owner_secret").read_text() == secret  # identities survive: same owner ids
    assert len(before) == 2 and after == before
