"""Owner identity derivation and which images a request works on."""

import pytest
from PIL import Image

from core.errors import MissingInput, Unauthorized
from models.contracts import Capability, InputImage
from pipeline.boundary.identity import new_browser_token, owner_from_token, owner_from_user
from pipeline.run.references import resolve_inputs


def test_owner_ids_are_stable_secret_dependent_and_kind_separated():
    token = new_browser_token()
    assert owner_from_token(token, "s1") == owner_from_token(token, "s1")
    assert owner_from_token(token, "s1") != owner_from_token(token, "s2")
    assert owner_from_token("same-name-but-long", "s") != owner_from_user("same-name-but-long", "s")
    assert token not in owner_from_token(token, "s1")
    assert len(token) >= 22 and len(set(new_browser_token() for _ in range(50))) == 50  # 128 random bits


@pytest.mark.parametrize("token", ["", "   ", "short", "password", "fifteen-chars-x", "x" * 300,
                                   "bad\x00token-that-is-long"])
def test_bad_tokens_are_refused(token):
    with pytest.raises(Unauthorized):
        owner_from_token(token, "s")


class Row:
    def __init__(self, image_id):
        self.id = image_id


def load_stored(row):
    return InputImage(Image.new("RGB", (8, 8)), image_id=row.id, role="latest")


def attachment(name):
    return InputImage(Image.new("RGB", (4, 4)), image_id=name, role="attachment")


EDIT = Capability("image_edit", "x", min_images=1, max_images=1)
SWAP = Capability("face_swap", "x", min_images=2, max_images=2)
GEN = Capability("image_generation", "x", min_images=0, max_images=1)
CHAT = Capability("chat", "x")


def test_attachments_take_precedence_over_the_latest_image():
    inputs = resolve_inputs([attachment("a")], Row("latest"), EDIT, load_stored)
    assert [i.image_id for i in inputs] == ["a"]


def test_it_means_the_latest_image():
    inputs = resolve_inputs([], Row("latest"), EDIT, load_stored)
    assert [(i.image_id, i.role) for i in inputs] == [("latest", "latest")]


def test_two_attachments_keep_their_order_and_one_is_completed_by_the_latest():
    assert [i.image_id for i in resolve_inputs([attachment("a"), attachment("b")], Row("l"), SWAP, load_stored)] == ["a", "b"]
    assert [i.image_id for i in resolve_inputs([attachment("face")], Row("l"), SWAP, load_stored)] == ["face", "l"]


def test_missing_image_asks_for_one():
    with pytest.raises(MissingInput, match="Attach an image"):
        resolve_inputs([], None, EDIT, load_stored)
    with pytest.raises(MissingInput, match="two images"):
        resolve_inputs([attachment("a")], None, SWAP, load_stored)


def test_generation_gets_the_latest_for_variations_and_chat_gets_none():
    assert [i.image_id for i in resolve_inputs([], Row("l"), GEN, load_stored)] == ["l"]
    assert resolve_inputs([], None, GEN, load_stored) == []
    assert resolve_inputs([attachment("a")], Row("l"), CHAT, load_stored) == []


def test_lookups_that_find_nothing_are_throttled_per_client(settings, monkeypatch):
    """Guessing owner tokens or ids is slowed down: after 30 empty lookups in a minute a client is refused
    (rate_limited, with when to try again); another client is not affected, and real use rarely misses."""
    from types import SimpleNamespace

    from tests.pipeline_util import make_pipeline
    from ui.handlers import Handlers

    pipe, store = make_pipeline(settings.replace(owner_secret="throttle-secret"))
    handlers = Handlers(pipe.settings, pipe, store, pipe.registry, pipe.router)
    guesser = SimpleNamespace(client=SimpleNamespace(host="203.0.113.7"), headers={}, username=None)
    other = SimpleNamespace(client=SimpleNamespace(host="198.51.100.2"), headers={}, username=None)
    for n in range(30):
        assert handlers.api_list_sessions(f"guessed-token-{n:06d}-xx", guesser) == []
    refused = handlers.api_list_sessions("guessed-token-final-xx", guesser)
    assert refused["error"]["code"] == "rate_limited" and refused["error"]["retry_after_s"] >= 1
    assert handlers.api_get_session("a" * 32, "guessed-token-final-xx", guesser)["error"]["code"] == "rate_limited"
    assert handlers.api_list_sessions("someone-elses-token-1234", other) == []  # another client still answered
    store.close()
