"""The Inference Providers generation backend against a local HTTP server standing in for the provider.

The stand-in speaks the two protocols huggingface_hub's InferenceClient uses here: the hf-inference one (a
dedicated endpoint URL: JSON in, image bytes out; image-to-image sends the base64 image in the JSON) and
Together's (the Hub's model → provider mapping, then `/v1/images/generations` with base64 JSON out). Its
images are computed from the request (a colour from the seed; the inverted input for image-to-image), so the
test knows which pixels must come back. Nothing leaves this machine.
"""

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image, ImageOps

from models.contracts import DOWNLOADABLE, MISSING, READY
from models.image_generation import capability
from tests.executor_util import make_front, photo, pixels, send
from tests.image_util import png

MODEL = "stand-in/tiny-flux"


def seed_colour(seed: int) -> tuple[int, int, int]:
    return seed % 256, (seed // 256) % 256, 77


class StandIn(BaseHTTPRequestHandler):
    calls: list = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def do_GET(self):  # the Hub's model info with the provider mapping
        self.calls.append({"method": "GET", "path": self.path})
        if self.path.startswith(f"/api/models/{MODEL}"):
            info = {"_id": "x", "id": MODEL, "inferenceProviderMapping": {
                "together": {"status": "live", "providerId": "together/tiny-flux", "task": "text-to-image"}}}
            return self._reply(200, json.dumps(info).encode(), "application/json")
        self._reply(404, b'{"error": "not found"}', "application/json")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
        self.calls.append({"method": "POST", "path": self.path, "auth": self.headers.get("authorization"),
                           "body": body})
        if self.path.startswith("/together/v1/images/generations"):
            image = Image.new("RGB", (body["width"], body["height"]), seed_colour(body["seed"]))
            out = {"data": [{"b64_json": base64.b64encode(png(image)).decode()}]}
            return self._reply(200, json.dumps(out).encode(), "application/json")
        prompt = body.get("inputs") if isinstance(body.get("inputs"), str) else ""
        params = body.get("parameters", {})
        if "bankrupt" in prompt:
            return self._reply(402, b'{"error": "You have exceeded your monthly included credits"}', "application/json")
        if "snail" in prompt:
            time.sleep(3)
        if self.path.endswith("/img2img"):
            source = Image.open(io.BytesIO(base64.b64decode(body["inputs"]))).convert("RGB")
            return self._reply(200, png(ImageOps.invert(source)), "image/png")
        image = Image.new("RGB", (params["width"], params["height"]), seed_colour(params["seed"]))
        self._reply(200, png(image), "image/png")


@pytest.fixture(scope="module")
def stand_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def online(monkeypatch):
    """The process is offline for every other test; the provider calls here only reach the local stand-in."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    StandIn.calls.clear()


def provider_settings(settings, **changes):
    return settings.replace(**{"t2i_provider": "hf-inference", "t2i_provider_model": MODEL,
                               "hf_token": "hf_operator_token", "router_backend": "lexical", **changes})


def test_selectable_in_settings(settings, online, monkeypatch):
    assert [b.name for b in capability(settings).backends] == ["diffusers", "inference_providers"]
    off = capability(settings).backends[1].status()
    assert off.state == MISSING and "GATEWAY_T2I_PROVIDER" in off.fix
    chosen = capability(provider_settings(settings)).backends
    assert [b.name for b in chosen] == ["inference_providers", "diffusers"] and chosen[0].status().state == READY
    assert chosen[0].describe()["provider"] == "hf-inference" and chosen[0].uses_model is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = chosen[0].status()
    assert offline.state == MISSING and "HF_HUB_OFFLINE" in offline.reason
    assert offline.state not in (READY, DOWNLOADABLE)


def test_text_to_image_on_the_endpoint_with_the_users_token(settings, online, stand_in):
    s = provider_settings(settings, t2i_provider="", t2i_provider_url=f"{stand_in}/models/{MODEL}")
    front, store = make_front(s)
    try:
        reply = send(front, "a red fox in the snow, 128x64, seed 7")
        assert reply.metadata["backend"] == "inference_providers" and reply.metadata["seed"] == 7
        assert np.array_equal(pixels(reply), np.full((64, 128, 3), seed_colour(7), dtype=np.uint8))
        call = StandIn.calls[-1]
        assert call["auth"] == "Bearer hf_operator_token"
        assert call["body"]["inputs"].startswith("a red fox in the snow")
        assert {k: call["body"]["parameters"][k] for k in ("seed", "width", "height")} == {"seed": 7, "width": 128,
                                                                                            "height": 64}
        assert "num_inference_steps" not in call["body"]["parameters"]  # the provider's default
        from core.images import png_text

        assert "Steps: provider default" in png_text(reply.images[0].path)["parameters"]

        unseeded = send(front, "a red fox, 64x64, 3 steps", hf_token="hf_signed_in_user")
        call = StandIn.calls[-1]
        assert call["auth"] == "Bearer hf_signed_in_user" and call["body"]["parameters"]["num_inference_steps"] == 3
        assert call["body"]["parameters"]["seed"] == unseeded.metadata["seed"]  # fixed in the front, then sent
        assert np.array_equal(pixels(unseeded)[0, 0], seed_colour(unseeded.metadata["seed"]))
        stored = b"".join(f.read_bytes() for f in s.db_path.parent.glob("gateway.sqlite3*"))
        assert stored and b"hf_signed_in_user" not in stored and b"hf_operator_token" not in stored  # never stored
    finally:
        store.close()


def test_variations_run_image_to_image_on_the_source(settings, online, stand_in):
    s = provider_settings(settings, t2i_provider="", t2i_provider_url=f"{stand_in}/img2img")
    front, store = make_front(s)
    try:
        reply = send(front, "make variations of this", [photo()], force_intent="image_generation")
        assert reply.metadata["backend"] == "inference_providers" and reply.metadata["mode"] == "image_to_image"
        body = StandIn.calls[-1]["body"]
        assert body["parameters"]["strength"] == pytest.approx(0.55) and "seed" in body["parameters"]
        assert np.array_equal(pixels(reply), 255 - np.asarray(photo()))
    finally:
        store.close()


def test_a_named_provider_through_the_hub_mapping(settings, online, stand_in, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", stand_in)
    monkeypatch.setattr(constants, "INFERENCE_PROXY_TEMPLATE", stand_in + "/{provider}")
    front, store = make_front(provider_settings(settings, t2i_provider="together"))
    try:
        reply = send(front, "a red fox, 64x64, seed 300")
        assert reply.metadata["provider"] == "together", reply.message
        assert np.array_equal(pixels(reply)[0, 0], seed_colour(300))
        post = StandIn.calls[-1]
        assert post["path"] == "/together/v1/images/generations" and post["body"]["model"] == "together/tiny-flux"
        assert post["auth"] == "Bearer hf_operator_token" and post["body"]["seed"] == 300
        assert any(c["method"] == "GET" and c["path"].startswith(f"/api/models/{MODEL}") for c in StandIn.calls)
    finally:
        store.close()


def test_provider_failures_are_clear_replies(settings, online, stand_in):
    s = provider_settings(settings, t2i_provider="", t2i_provider_url=f"{stand_in}/models/{MODEL}",
                          t2i_provider_timeout_s=1.0)
    front, store = make_front(s)
    try:
        broke = send(front, "a bankrupt cat, seed 1", force_intent="image_generation")
        assert broke.type == "error" and "no credit" in broke.message and broke.error["code"] == "capability_unavailable"
        started = time.monotonic()
        slow = send(front, "a snail, seed 2", force_intent="image_generation")
        assert slow.type == "error" and "did not answer within 1 s" in slow.message
        assert time.monotonic() - started < 3
    finally:
        store.close()
