"""The gateway as MCP tools: the real app's MCP endpoint lists its tools, and `chat` through MCP returns an image.

Uses the `mcp` package's own client over Streamable HTTP, as an agent (Claude Desktop, Cursor…) would.
"""

import asyncio
import base64
import io

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


async def _session(url, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


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
        assert by_name[name].description, name


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
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert '"type": "image"' in text or "'type': 'image'" in text

    async def listing(session):
        return await session.call_tool("list_sessions", {"owner": OWNER})

    sessions = asyncio.run(_session(server.url, listing))
    assert "make it black and white" in " ".join(c.text for c in sessions.content if c.type == "text")


def test_the_mcp_server_can_be_turned_off(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    srv = Server(data, free_port(), env={"GATEWAY_MCP_SERVER": "false"}).start()
    try:
        assert requests.get(srv.url + "gradio_api/mcp/", timeout=10).status_code == 404
        assert requests.get(srv.url + "gradio_api/openapi.json", timeout=10).status_code == 200  # the API stays
    finally:
        srv.stop()
