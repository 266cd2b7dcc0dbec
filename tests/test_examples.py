"""The empty chat's examples (examples/chats.json) are understood and answered honestly."""

import json
from pathlib import Path

import pytest

from tests.pipeline_util import ALICE, make_pipeline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = json.loads((ROOT / "examples" / "chats.json").read_text())["start"]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from core.settings import Settings

    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("examples") / "data")
    pipeline, store = make_pipeline(settings)
    yield pipeline
    store.close()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["text"][:30] for e in EXAMPLES])
def test_example_routes_and_gets_an_honest_reply(pipe, example):
    files = [str(ROOT / f) for f in example.get("files", [])]
    reply = pipe.process_message(example["text"], "", files, {"owner": ALICE})
    assert reply.metadata.get("intent") == example["intent"], reply.metadata
    if reply.type == "error":  # only allowed when the capability cannot run here, and then it says why
        assert reply.error["code"] == "capability_unavailable", reply.error
        assert len(reply.message) > 30
    else:
        assert reply.type in ("image", "text", "clarification")
        if reply.type == "image":
            assert reply.images and reply.metadata["backend"]
