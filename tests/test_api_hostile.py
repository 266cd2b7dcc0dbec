"""The real app over raw HTTP, as an attacker or a careless script would call it (issue 10, items 2, 5, 7).

Raw `POST /gradio_api/call/<endpoint>` lets a caller send what gradio_client never would: a context that is
text or a list, `image_ids: 5`, NaN, a lone surrogate, a file object without Gradio's marker. Every such call
gets a coded reply naming the field and leaves the database as it was. Hypothesis then throws generated junk
at every endpoint: a coded reply each time (Gradio's own anonymous refusal only for what never reaches our
code: a wrong number of inputs, or a file path Gradio did not receive, which are not generated here), no
traceback, no server path, no session without messages and no user message without a reply. Deleting a
session deletes: the export folder and every URL handed out for its images stop serving them.
"""

import json
import re
import sqlite3
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image

from pipeline.store.store import UNANSWERED_SQL
from tests.server_util import ROOT, serve_app

OWNER = "hostile-api-owner-1"
FILE_META = {"_type": "gradio.FileData"}
SERVER_PATH_MARKERS = (str(ROOT), "site-packages", str(Path.home()) + "/")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory, "hostile")


def call(server, endpoint: str, data: list) -> tuple[str, object, str]:
    """(event, parsed data, raw text) of one raw-HTTP call; JSON may carry NaN and escaped lone surrogates."""
    body = json.dumps({"data": data}, allow_nan=True)  # ensure_ascii: a lone surrogate travels as \\udXXX
    r = requests.post(f"{server.url}gradio_api/call/{endpoint}", data=body,
                      headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text[:500]
    stream = requests.get(f"{server.url}gradio_api/call/{endpoint}/{r.json()['event_id']}", timeout=120)
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", stream.text, flags=re.M)
    event, payload = events[-1]
    return event, json.loads(payload), stream.text


def upload(server, path: Path) -> dict:
    with open(path, "rb") as handle:
        r = requests.post(f"{server.url}gradio_api/upload", files={"files": (path.name, handle, "image/png")}, timeout=30)
    return {"path": r.json()[0], "orig_name": path.name, "meta": FILE_META}


def db_counts(server) -> dict:
    conn = sqlite3.connect(f"file:{server.data_dir / 'gateway.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("sessions", "messages", "images", "message_images", "routing_corrections")}
        counts["empty_sessions"] = conn.execute(
            "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id)"
        ).fetchone()[0]
        counts["unanswered"] = len(conn.execute(UNANSWERED_SQL, (1000,)).fetchall())
    finally:
        conn.close()
    return counts


def assert_clean(raw: str, server) -> None:
    assert "Traceback" not in raw and "File \"" not in raw
    for marker in SERVER_PATH_MARKERS + (str(server.data_dir),):
        assert marker not in raw, f"{marker} leaked: {raw[:300]}"


def assert_coded_chat(event, payload, raw, server, field=None):
    assert event == "complete", raw[:500]
    reply, files = payload
    assert reply["type"] in ("image", "text", "clarification", "error"), reply
    if reply["type"] == "error":
        assert re.fullmatch(r"[a-z_]+", reply["error"]["code"]), reply
    if field is not None:
        assert reply["error"]["code"] == "invalid_input" and reply["error"]["field"] == field, reply
        assert reply["message_id"] is None and files == []
    assert_clean(raw, server)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.new("RGB", (160, 120), (200, 80, 40)).save(path)
    return path


# ---- the raw-HTTP cases ------------------------------------------------------------------------------
RAW_CASES = [  # (message, images, mask, context, field)
    ("hello", [], None, "hello", "context"),
    ("hello", [], None, [1, 2], "context"),
    ("hello", [], None, {"image_ids": 5}, "context.image_ids"),
    ("hello \ud800", [], None, {}, "message"),
    ("make it brighter", [], None, {"params": {"factor": float("nan")}}, "context.params.factor"),
    ("make it brighter", [], None, {"params": {"factor": float("inf")}}, "context.params.factor"),
    ("hello", [], None, {"params": "abc"}, "context.params"),
    ("hello", [], None, {"params": {"factor": "abc"}}, "context.params.factor"),
    ("hello", [], None, {"params": {"operations": "rotate"}}, "context.params.operations"),
    ("hello", [], None, {"force_intent": "teleport"}, "context.force_intent"),
    ("hello", [], None, {"force_intent": ["chat"]}, "context.force_intent"),
    ("hello", [], None, {"correction_of": 99999}, "context.correction_of"),
    ("hello", [], None, {"owner": "someone-else-token"}, "context.owner"),
    ("hello", 5, None, {}, "images"),
    ("hello", [{"path": "/etc/passwd"}], None, {}, "images"),
    ("hello", [], [1, 2], {}, "mask"),
]


@pytest.mark.parametrize("message,images,mask,context,field", RAW_CASES)
def test_raw_http_cases_get_a_coded_reply_and_store_nothing(server, photo, message, images, mask, context, field):
    event, payload, raw = call(server, "chat", ["make it brighter", [upload(server, photo)], None, "", OWNER, {}])
    session_id = payload[0]["session_id"]
    before = db_counts(server)
    for sid in ("", session_id):
        event, payload, raw = call(server, "chat", [message, images, mask, sid, OWNER, context])
        assert_coded_chat(event, payload, raw, server, field=field)
    assert db_counts(server) == before


def test_other_endpoints_refuse_bad_ids_with_a_code(server):
    for endpoint, data, code in (("get_session", ["\ud800", OWNER], "invalid_input"),
                                 ("delete_session", ["\udfff", OWNER], "invalid_input"),
                                 ("get_session", ["x" * 10_000, OWNER], "invalid_input"),
                                 ("list_sessions", ["\ud800\ud800\ud800\ud800\ud800"], "unauthorized")):
        event, payload, raw = call(server, endpoint, data)
        assert event == "complete" and payload[0]["error"]["code"] == code, raw
        assert_clean(raw, server)
    event, payload, raw = call(server, "get_image", ["\ud800", OWNER])
    assert event == "error" and payload["error"].startswith("invalid_input:"), raw


def test_no_server_paths_in_capabilities_page_or_config(server):
    event, payload, raw = call(server, "capabilities", [])
    assert event == "complete" and payload[0]["capabilities"]
    assert_clean(raw, server)
    assert not re.search(r'(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]+', raw), "an absolute path in /capabilities"
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        page = requests.get(server.url + path, timeout=30).text
        assert_clean(page, server)  # only Gradio's own cache URLs, never the code, data or home folders


# ---- generated junk at every endpoint ----------------------------------------------------------------------------
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
    | st.sampled_from(["\ud800", "x\udfffy", "chat", "upscale", "a" * 64, "../../etc/passwd", "/etc/passwd"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
context_keys = ["force_intent", "params", "image_ids", "consent", "correction_of", "corrected_from", "owner", "x"]
contexts = json_junk | st.fixed_dictionaries({}, optional={k: json_junk for k in context_keys}) | st.fixed_dictionaries(
    {"params": st.dictionaries(st.sampled_from(["scale", "factor", "operations", "count", "seed", "angle", "target",
                                                "box", "negative", "mode", "width"]), json_junk, max_size=3)})
texts = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["hello", "make it brighter", "\ud800", "a" * 64]),
                  st.integers())
files = st.one_of(st.none(), json_junk, st.lists(st.fixed_dictionaries({"path": st.text(max_size=20)}), max_size=2))
owners = st.one_of(st.just(OWNER), texts)
junk_settings = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@junk_settings
@given(message=texts, images=files, mask=files, session_id=texts, owner=owners, context=contexts)
def test_junk_at_chat(server, message, images, mask, session_id, owner, context):
    event, payload, raw = call(server, "chat", [message, images, mask, session_id, owner, context])
    assert_coded_chat(event, payload, raw, server)
    counts = db_counts(server)
    assert counts["empty_sessions"] == 0 and counts["unanswered"] == 0, counts


@junk_settings
@given(endpoint=st.sampled_from(["list_sessions", "get_session", "delete_session", "get_image", "capabilities"]),
       session_id=texts, owner=owners)
def test_junk_at_the_other_endpoints(server, endpoint, session_id, owner):
    data = {"list_sessions": [owner], "capabilities": []}.get(endpoint, [session_id, owner])
    event, payload, raw = call(server, endpoint, data)
    assert_clean(raw, server)
    if endpoint == "get_image":  # a file output: errors come as Gradio errors, with our code in front
        assert event == "error" and re.match(r"[a-z_]+: ", payload["error"] or ""), raw
        return
    assert event == "complete", raw
    result = payload[0]
    if isinstance(result, dict) and "error" in result:
        assert re.fullmatch(r"[a-z_]+", result["error"]["code"]), result


# ---- deletion deletes ------------------------------------------------------------------------------------------
def _urls(payload) -> list[str]:
    return [f["url"] for f in payload[1]]


def _served(server, url: str) -> bool:
    r = requests.get(url if url.startswith("http") else server.url.rstrip("/") + url, timeout=30)
    return r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_after_delete_no_url_or_export_serves_the_image(server, photo, tmp_path):
    owner = "deleting-owner-77"
    event, first, raw = call(server, "chat", ["make it black and white", [upload(server, photo)], None, "", owner, {}])
    assert first[0]["type"] == "image", raw
    sid, image_id = first[0]["session_id"], first[0]["data"]["images"][0]["id"]
    event, second, _ = call(server, "chat", ["rotate it 90 degrees", [], None, sid, owner, {}])
    event, got, raw = call(server, "get_image", [image_id, owner])
    urls = _urls(first) + _urls(second) + [got[0]["url"]]
    assert all(_served(server, url) for url in urls)
    exports = {url.rsplit("/", 1)[-1] for url in urls}  # the owner-keyed names of this owner's exports
    assert exports <= {p.name for p in server.gradio_dir.glob("gateway-exports-*/*")}, \
        "the exports live in this instance's Gradio cache, served where they are"

    # the same picture in another session of the same owner keeps its URL until that one goes too
    event, other, _ = call(server, "chat", ["make it black and white", [upload(server, photo)], None, "", owner, {}])
    assert other[0]["data"]["images"][0]["id"] == image_id

    event, deleted, _ = call(server, "delete_session", [sid, owner])
    assert deleted[0] == {"deleted": True}
    assert _served(server, _urls(other)[0])
    assert not any(_served(server, url) for url in _urls(second))  # the rotated image existed only there

    event, deleted, _ = call(server, "delete_session", [other[0]["session_id"], owner])
    assert deleted[0] == {"deleted": True}
    assert not any(_served(server, url) for url in urls + _urls(other))
    remaining = {p.name for p in server.gradio_dir.glob("gateway-exports-*/*")}
    assert not remaining & exports, "an export of a deleted image is still on disk"
    assert not list(server.data_dir.rglob(f"{image_id}.png"))
    event, payload, raw = call(server, "get_image", [image_id, owner])
    assert event == "error" and payload["error"].startswith("not_found")
