"""The gateway as MCP tools: the real app's MCP endpoint lists its tools, and `chat` through MCP returns an image.

Uses the `mcp` package's own client over Streamable HTTP, as an agent (Claude Desktop, Cursor…) would.
"""

import asyncio
import base64
import io
import json

import numpy as np
import pytest
import requests
from PIL import Image

from tests.server_util import Server, free_port, serve_app

TOOLS = {"chat", "list_sessions", "get_session", "delete_session", "get_image", "capabilities"}
OWNER = "mcp-agent-owner-token-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory, "mcp")


def _data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


async def _session(url, work, path="gradio_api/mcp", headers=None):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url + path, headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def _texts(result) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


def test_the_mcp_endpoint_lists_the_gateway_tools_with_their_arguments(server):
    tools = asyncio.run(_session(server.url, lambda s: s.list_tools())).tools
    by_name = {t.name: t for t in tools}
    assert TOOLS <= set(by_name), sorted(by_name)
    assert not [t for t in by_name if t.startswith(("on_", "lambda", "chat_with"))]  # only what agents can use
    chat = by_name["chat"]
    assert "image" in chat.description.lower() and "Returns" in chat.description
    props = chat.inputSchema["properties"]
    assert {"message", "images", "session_id", "owner", "context"} <= set(props)
    assert "plain words" in props["message"]["description"] and "owner token" in props["owner"]["description"]
    for name in TOOLS:
        tool = by_name[name]
        assert tool.description, name
        described = tool.description + json.dumps(tool.inputSchema)
        assert "upload_file_to_gradio" not in described and ",," not in described, name  # no tool that isn't there
        assert "http or https url" not in described, name  # the server never fetches a URL for an agent
    assert chat.inputSchema["required"] == ["message"]  # session, owner, images, mask, context may be left out


@pytest.mark.parametrize("path", ["gradio_api/mcp", "gradio_api/mcp/"])
def test_the_readme_url_works_with_and_without_the_trailing_slash(server, path):
    tools = asyncio.run(_session(server.url, lambda s: s.list_tools(), path=path)).tools
    assert TOOLS <= {t.name for t in tools}


def test_an_agent_may_leave_arguments_out_send_a_null_mask_and_gets_json_text(server):
    async def work(session):
        first = await session.call_tool("chat", {"message": "hello", "owner": OWNER, "mask": None})
        listing = await session.call_tool("list_sessions", {"owner": OWNER})
        return first, listing

    first, listing = asyncio.run(_session(server.url, work))
    assert not first.isError, first.content
    reply = json.loads(_texts(first)[0])  # JSON text, not a Python repr
    assert reply["type"] == "text" and reply["session_id"]
    assert reply["session_id"] in [s["session_id"] for s in json.loads(_texts(listing)[0])]


def test_an_agent_image_must_be_a_data_url_the_server_never_fetches_one(server):
    async def work(session):
        return await session.call_tool("chat", {"message": "make it black and white", "owner": OWNER,
                                                "images": ["http://127.0.0.1:9/never-fetched.png"]})

    result = asyncio.run(_session(server.url, work))
    reply = json.loads(_texts(result)[0])
    assert reply["type"] == "error" and reply["error"]["code"] == "invalid_input" and reply["error"]["field"] == "images"


def test_chat_through_mcp_returns_an_image(server):
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((96, 96))

    async def work(session):
        return await session.call_tool("chat", {"message": "make it black and white", "images": [_data_url(photo)],
                                                "session_id": "", "owner": OWNER, "context": {}})

    result = asyncio.run(_session(server.url, work))
    assert not result.isError, result.content
    images = [c for c in result.content if c.type == "image"]
    assert images, [str(c)[:400] for c in result.content]
    out = Image.open(io.BytesIO(base64.b64decode(images[0].data))).convert("RGB")
    arr = np.asarray(out).astype(int)
    assert out.size == (96, 96) and np.abs(arr[..., 0] - arr[..., 2]).max() <= 1  # really made black and white
    assert json.loads(_texts(result)[0])["type"] == "image"

    async def listing(session):
        return await session.call_tool("list_sessions", {"owner": OWNER})

    sessions = asyncio.run(_session(server.url, listing))
    assert "make it black and white" in " ".join(c.text for c in sessions.content if c.type == "text").lower()


def test_the_mcp_server_can_be_turned_off(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data, free_port(), env={"GATEWAY_MCP_SERVER": "false"}).start()
    try:
        assert requests.get(srv.url + "gradio_api/mcp/", timeout=10).status_code == 404
        assert requests.get(srv.url + "gradio_api/openapi.json", timeout=10).status_code == 200  # the API stays
    finally:
        srv.stop()


# ---- one gate: with GATEWAY_AUTH, MCP needs the same login as the page and the API -----------------------------
ACCOUNT = ("alice", "wonderland-passphrase")


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    yield from serve_app(tmp_path_factory, "mcp-auth", env={"GATEWAY_AUTH": ":".join(ACCOUNT)})


def _basic(user, password) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_with_a_login_mcp_refuses_callers_without_credentials(locked):
    assert requests.get(locked.url + "gradio_api/mcp/schema", timeout=10).status_code == 401
    assert requests.post(locked.url + "gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                         headers={"Accept": "application/json, text/event-stream"}, timeout=10).status_code == 401
    assert requests.get(locked.url + "gradio_api/info", timeout=10).status_code == 401  # Gradio's own check
    wrong = _basic("alice", "guess")
    assert requests.get(locked.url + "gradio_api/mcp/schema", headers=wrong, timeout=10).status_code == 401
    with pytest.raises(Exception):
        asyncio.run(_session(locked.url, lambda s: s.call_tool("chat", {"message": "hello"})))
    import sqlite3

    with sqlite3.connect(locked.data_dir / "gateway.sqlite3") as db:  # nothing was stored for the refused calls
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def test_with_a_login_an_agent_with_credentials_chats_as_that_user(locked):
    headers = _basic(*ACCOUNT)
    assert requests.get(locked.url + "gradio_api/mcp/schema", headers=headers, timeout=10).status_code == 200

    async def work(session):
        reply = await session.call_tool("chat", {"message": "hello"})  # no owner token: the login is the owner
        listing = await session.call_tool("list_sessions", {"owner": "some-other-token-123456"})
        return reply, listing

    reply, listing = asyncio.run(_session(locked.url, work, headers=headers))
    session_id = json.loads(_texts(reply)[0])["session_id"]
    assert session_id in [s["session_id"] for s in json.loads(_texts(listing)[0])]  # the user's chats, any token
    # the same user through the plain API (Basic credentials there too) sees the same chat
    from gradio_client import Client

    listed = Client(locked.url, verbose=False, headers=headers).predict(None, api_name="/list_sessions")
    assert session_id in [s["session_id"] for s in listed]
