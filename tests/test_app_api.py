"""The real app on a free port, driven through gradio_client and plain HTTP like a script would.

Covers: chat with an image → edited image file back; list/get/delete; restart → history intact; owner B
cannot list, read or delete owner A's sessions or fetch A's image files; bad input over the API.
"""

import numpy as np
import pytest
import requests
from PIL import Image

from tests.server_util import Server, free_port, serve_app

ALICE, BOB = "alice-api-token-1", "bob-api-token-22"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory, "app")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("in") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def chat(c, message, images=(), session_id="", owner=ALICE, context=None, mask=None):
    from gradio_client import handle_file

    return c.predict(message, [handle_file(str(p)) for p in images], handle_file(str(mask)) if mask else None,
                     session_id, owner, context or {}, api_name="/chat")


def test_named_endpoints_are_published(server):
    info = client(server).view_api(return_format="dict", print_info=False)
    names = set(info["named_endpoints"])
    assert {"/chat", "/list_sessions", "/get_session", "/delete_session", "/capabilities", "/get_image"} <= names


def test_chat_with_image_returns_an_edited_file(server, photo):
    c = client(server)
    response, files = chat(c, "make it black and white", [photo])
    assert response["type"] == "image", response
    assert len(files) == 1
    out = Image.open(files[0] if isinstance(files[0], str) else files[0]["path"]).convert("RGB")
    arr = np.asarray(out).astype(int)
    assert out.size == (512, 512) and np.abs(arr[..., 0] - arr[..., 2]).max() <= 1
    assert "path" not in response["data"]["images"][0]  # no server paths leak to clients
    sid = response["session_id"]
    follow, files2 = chat(c, "rotate it 90 degrees", session_id=sid)
    assert follow["type"] == "image" and len(files2) == 1

    listing = c.predict(ALICE, api_name="/list_sessions")
    assert [s["session_id"] for s in listing] == [sid] and listing[0]["message_count"] == 4
    session = c.predict(sid, ALICE, api_name="/get_session")
    assert [m["role"] for m in session["messages"]] == ["user", "assistant", "user", "assistant"]
    assert session["messages"][1]["images"][0]["id"] == response["data"]["images"][0]["id"]


def test_owner_isolation(server, photo):
    c = client(server)
    mine, _ = chat(c, "make it brighter", [photo])
    sid, image_id = mine["session_id"], mine["data"]["images"][0]["id"]
    assert sid not in [s["session_id"] for s in c.predict(BOB, api_name="/list_sessions")]
    foreign = c.predict(sid, BOB, api_name="/get_session")
    assert foreign["error"]["code"] == "not_found"
    assert c.predict(sid, BOB, api_name="/delete_session") == {"deleted": False}
    reply, files = chat(c, "make it darker", session_id=sid, owner=BOB)
    assert reply["error"]["code"] == "not_found" and files == []
    with pytest.raises(Exception, match="not_found"):
        c.predict(image_id, BOB, api_name="/get_image")
    got = c.predict(image_id, ALICE, api_name="/get_image")
    assert Image.open(got).size == (512, 512)
    # the stored file itself is not served by path to anybody
    stored = next(server.data_dir.rglob(f"{image_id}.png"))
    r = requests.get(f"{server.url}gradio_api/file={stored}", timeout=10)
    assert r.status_code in (403, 404), r.status_code
    # nor can the Gradio cache URL be derived from the image id alone
    served = list(server.gradio_dir.rglob("*.png"))
    assert served and not any(image_id in str(p.relative_to(server.gradio_dir).name) for p in served)
    for guess in (f"{server.gradio_dir}/{image_id}/{image_id}.png", f"{server.gradio_dir}/{image_id}.png"):
        assert requests.get(f"{server.url}gradio_api/file={guess}", timeout=10).status_code in (403, 404)
    assert c.predict(sid, ALICE, api_name="/get_session")["messages"]  # still there


def test_bad_input_over_the_api(server, tmp_path):
    c = client(server)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    reply, files = chat(c, "make it brighter", [broken])
    assert reply["type"] == "error" and reply["error"]["code"] == "invalid_image" and files == []
    reply, _ = chat(c, "hello", owner="")
    assert reply["error"]["code"] == "unauthorized"
    reply, _ = chat(c, "x" * 20000)
    assert reply["error"]["code"] == "invalid_input"
    caps = c.predict(api_name="/capabilities")
    assert {cap["name"] for cap in caps["capabilities"]} >= {"image_edit", "chat", "upscale", "face_swap"}


def test_delete_session(server, photo):
    c = client(server)
    mine, _ = chat(c, "flip it horizontally", [photo])
    assert c.predict(mine["session_id"], ALICE, api_name="/delete_session") == {"deleted": True}
    assert mine["session_id"] not in [s["session_id"] for s in c.predict(ALICE, api_name="/list_sessions")]


def test_history_survives_a_restart(tmp_path, photo):
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    srv = Server(data, port).start()
    try:
        reply, _ = chat(client(srv), "make it black and white", [photo])
    finally:
        srv.stop()
    srv = Server(data, port).start()
    try:
        session = client(srv).predict(reply["session_id"], ALICE, api_name="/get_session")
        assert [m["role"] for m in session["messages"]] == ["user", "assistant"]
        assert session["messages"][1]["images"][0]["id"] == reply["data"]["images"][0]["id"]
    finally:
        srv.stop()
