"""The typed API boundary (pipeline.boundary.schema) on its own and in front of the real pipeline and store.

Every hostile or careless value of issue 10 — wrong types, NaN/Infinity, a lone surrogate, an unknown intent,
a `correction_of` that does not exist or is somebody else's — is `invalid_input` naming the field and leaves
the database exactly as it was; generated junk (hypothesis) never gets anything but a coded reply, and never
leaves a session without messages or a user message without its reply.
"""

import io
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from PIL import Image

from core.errors import InvalidInput
from pipeline.boundary.identity import owner_from_token
from pipeline.boundary.schema import CONTEXT_KEYS, Params, check_context, check_id_text, check_message
from tests.pipeline_util import db_state, make_pipeline, send
from tests.image_util import png

ALICE = owner_from_token("alice-token-12345", "secret")
BOB = owner_from_token("bob-token-4567890", "secret")
ISSUE_CASES = [  # (context, the field the reply must name)
    ({"params": "abc"}, "context.params"),
    ({"params": [1, 2]}, "context.params"),
    ({"params": {"factor": "abc"}}, "context.params.factor"),
    ({"params": {"operations": "rotate"}}, "context.params.operations"),
    ({"params": {"operations": [{"operation": "rotate", "angle": "ninety"}]}}, "context.params.operations[0].angle"),
    ({"force_intent": "teleport"}, "context.force_intent"),
    ({"force_intent": ["chat"]}, "context.force_intent"),
    ({"params": {"scale": float("nan")}}, "context.params.scale"),
    ({"params": {"seed": float("inf")}}, "context.params.seed"),
    ({"params": {"strength": -float("inf")}}, "context.params.strength"),
    ({"image_ids": 5}, "context.image_ids"),
    ({"image_ids": ["not-an-id"]}, "context.image_ids[0]"),
    ({"params": {"target": "a\ud800b"}}, "context.params.target"),
    ({"consent": "yes"}, "context.consent"),
    ({"correction_of": "12"}, "context.correction_of"),
    ({"params": {"count": True}}, "context.params.count"),
    ({"params": {"width": 10**30}}, "context.params.width"),
    ({"teleport": 1}, "context.teleport"),
    ({"params": {"margins": {"middle": 5}}}, "context.params.margins.middle"),
]


def assert_whole(store) -> None:
    """No session without messages, no user message without a reply."""
    conn = sqlite3.connect(store.db_path)
    try:
        empty = conn.execute("SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS "
                             "(SELECT 1 FROM messages m WHERE m.session_id = s.id)").fetchone()[0]
    finally:
        conn.close()
    assert empty == 0, "a session was created without a message"
    assert store.unanswered_messages() == [], "a user message was left without a reply"


@pytest.fixture
def pipe_store(settings):
    pipe, store = make_pipeline(settings)
    yield pipe, store
    store.close()


# ---- the schema on its own ------------------------------------------------------------------------------------
@pytest.mark.parametrize("context,field", ISSUE_CASES)
def test_each_bad_context_value_is_named(context, field):
    with pytest.raises(InvalidInput) as info:
        check_context(context)
    assert info.value.details["field"] == field
    assert field in info.value.message


@pytest.mark.parametrize("raw", ["hello", [1, 2], 5, True])
def test_a_context_that_is_not_an_object(raw):
    with pytest.raises(InvalidInput) as info:
        check_context(raw)
    assert info.value.details["field"] == "context"


def test_good_contexts_pass_unchanged():
    context = {"force_intent": "image_edit", "image_ids": ["a" * 64], "consent": True, "correction_of": 3,
               "corrected_from": "upscale",
               "params": {"operations": [{"operation": "rotate", "angle": 90, "direction": "clockwise"},
                                         {"operation": "crop", "box": [0, 0, 10.5, 20]}],
                          "scale": 2, "strength": "light", "negative": ["people", "text"], "seed": 2**40,
                          "source_recipe": {"prompt": "a fox", "seed": 1, "nested": {"k": [1, 2.5, None]}}}}
    assert check_context(context) == context
    assert check_context(None) == {} and check_context({"params": None}) == {}


def test_message_and_ids():
    assert check_message("hi", 10) == "hi"
    for bad, field in ((5, "message"), ("x\udfff", "message")):
        with pytest.raises(InvalidInput) as info:
            check_message(bad, 100)
        assert info.value.details["field"] == field
    with pytest.raises(InvalidInput):
        check_message("x" * 11, 10)
    with pytest.raises(InvalidInput) as info:
        check_id_text("\ud800", "session_id")
    assert info.value.details["field"] == "session_id"
    assert check_id_text(None, "session_id") == "" and check_id_text(" abc ", "session_id") == "abc"


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30) | st.sampled_from(["\ud800", "a\udfffb", "", "chat", "a" * 64, "rotate"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)
param_keys = sorted(Params.model_fields)
contexts = st.one_of(
    json_junk,
    st.fixed_dictionaries({}, optional={key: json_junk for key in sorted(CONTEXT_KEYS)}),
    st.fixed_dictionaries({"params": st.fixed_dictionaries({}, optional={k: json_junk for k in param_keys})}),
)


@hsettings(max_examples=150, deadline=None)
@given(contexts)
def test_junk_contexts_are_accepted_or_refused_with_a_field(raw):
    try:
        checked = check_context(raw)
    except InvalidInput as exc:
        assert exc.details["field"].startswith("context") and exc.code == "invalid_input"
        return
    json.dumps(checked, allow_nan=False).encode("utf-8")  # what passes can be stored


# ---- in front of the pipeline and the store --------------------------------------------------------------------
# Unknown keys are refused at the API (tests/test_api_hostile.py); inside, the pipeline's context also carries
# its own keys (owner, progress, cancel_event).
@pytest.mark.parametrize("context,field", [case for case in ISSUE_CASES if set(case[0]) <= CONTEXT_KEYS])
def test_bad_context_stores_nothing(pipe_store, astronaut, context, field):
    pipe, store = pipe_store
    first = send(pipe, "make it brighter", images=[png(astronaut)])
    before = db_state(store)
    for session_id in ("", first.session_id):  # a new session and an existing one
        reply = send(pipe, "rotate it", session_id, images=[png(astronaut)], **context)
        assert reply.type == "error" and reply.error["code"] == "invalid_input", reply.message
        assert reply.error["field"] == field and reply.message_id is None
        assert db_state(store) == before


def test_surrogate_message_and_session_id_store_nothing(pipe_store):
    pipe, store = pipe_store
    before = db_state(store)
    reply = send(pipe, "hello \ud800")
    assert reply.error["code"] == "invalid_input" and reply.error["field"] == "message"
    reply = pipe.process_message("hello", "\udc00", [], {"owner": ALICE})
    assert reply.error["code"] == "invalid_input" and reply.error["field"] == "session_id"
    assert db_state(store) == before


def test_correction_of_must_be_a_user_message_of_this_session(pipe_store, astronaut):
    pipe, store = pipe_store
    mine = send(pipe, "make it brighter", images=[png(astronaut)])
    user_id = mine.metadata["user_message_id"]
    theirs = send(pipe, "make it darker", images=[png(astronaut)], owner=BOB)
    before = db_state(store)
    cases = [("", user_id), (mine.session_id, 10**9), (mine.session_id, mine.message_id),  # the reply, not a user message
             (mine.session_id, theirs.metadata["user_message_id"])]
    for session_id, message_id in cases:
        reply = send(pipe, "no, flip it", session_id, correction_of=message_id, corrected_from="image_edit",
                     force_intent="image_edit")
        assert reply.error["code"] == "invalid_input" and reply.error["field"] == "context.correction_of"
    assert db_state(store) == before
    ok = send(pipe, "make it brighter", mine.session_id, correction_of=user_id, corrected_from="upscale",
              force_intent="image_edit")
    assert ok.type == "image" and store.corrections()[0]["message_id"] == user_id


def test_every_chip_the_pipeline_offers_passes_the_schema(pipe_store, astronaut):
    pipe, store = pipe_store
    astronaut = astronaut.resize((96, 96))
    chips = []
    for text, images, context in (("make it black and white", [png(astronaut)], {}),
                                  ("hmm", [png(astronaut)], {}),
                                  ("make it look like van gogh", [png(astronaut)], {}),
                                  ("remove the background", [png(astronaut)], {}),
                                  ("swap the faces", [png(astronaut), png(astronaut)], {"force_intent": "face_swap"})):
        reply = send(pipe, text, images=images, **context)
        chips += reply.actions
    assert any(a.get("context") for a in chips)
    for action in chips:
        if action.get("context"):
            check_context(action["context"])


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.one_of(st.text(max_size=40), st.sampled_from(["hello", "make it brighter", "\ud800", None, 5])),
       context=contexts, attach=st.booleans())
def test_junk_at_the_pipeline_gets_a_coded_reply_and_nothing_half_written(pipe_store, message, context, attach):
    pipe, store = pipe_store
    before = db_state(store)
    tiny = Image.new("RGB", (16, 12), "red")
    full = {"owner": ALICE, **context} if isinstance(context, dict) else {"owner": ALICE, "params": context}
    reply = pipe.process_message(message, "", [png(tiny)] if attach else [], full)
    assert reply.type in ("image", "text", "clarification", "error")
    if reply.type == "error":
        assert reply.error["code"] and "Traceback" not in reply.message
    json.dumps(reply.to_dict(), allow_nan=False).encode("utf-8")
    if reply.message_id is None:
        assert db_state(store) == before
    assert_whole(store)


def test_nan_params_leave_no_empty_session(pipe_store):
    pipe, store = pipe_store
    before = db_state(store)
    reply = send(pipe, "hello", params={"x": float("nan")})
    assert reply.error["code"] == "invalid_input" and db_state(store) == before
    assert store.list_sessions(ALICE) == []


def test_unexpected_failure_after_the_user_message_stores_the_error_reply(settings, astronaut, monkeypatch):
    pipe, store = make_pipeline(settings)
    try:
        def broken(*args, **kwargs):
            raise RuntimeError("/secret/server/path exploded")
        monkeypatch.setattr(pipe.refiner, "refine", broken)
        reply = send(pipe, "make it brighter", images=[png(astronaut)], force_intent="image_edit")
        assert reply.type == "error" and reply.error["error_id"] in reply.message
        assert reply.message_id is not None and "/secret" not in reply.message
        rows = store.history(reply.session_id, ALICE)
        assert [r.role for r in rows] == ["user", "assistant"]
        assert rows[1].metadata["error"]["error_id"] == reply.error["error_id"]
        assert rows[1].metadata["user_message_id"] == rows[0].id
        retry = rows[1].metadata["actions"][0]
        assert retry["id"] == "retry" and retry["message"] == "make it brighter"
        assert retry["context"]["image_ids"] == [rows[0].images[0].id]
        check_context(retry["context"])
        monkeypatch.undo()
        again = send(pipe, retry["message"], reply.session_id, **retry["context"])
        assert again.type == "image"
        assert_whole(store)
    finally:
        store.close()


def test_failure_before_the_user_message_writes_nothing(settings, astronaut, monkeypatch):
    pipe, store = make_pipeline(settings)
    try:
        before = db_state(store)

        def broken(*args, **kwargs):
            raise MemoryError("encoding failed")
        monkeypatch.setattr(pipe.replies, "new_image", broken)
        reply = send(pipe, "make it brighter", images=[png(astronaut)])
        assert reply.type == "error" and reply.error["error_id"] and reply.message_id is None
        assert db_state(store) == before and store.list_sessions(ALICE) == []
    finally:
        store.close()


def test_clamp_notes_end_with_one_full_stop(pipe_store):
    pipe, store = pipe_store
    reply = send(pipe, "hello", force_intent="chat", params={"count": 50})
    assert ".." not in reply.message
    img = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(img, format="PNG")
    reply = send(pipe, "rotate it 500 degrees", images=[img.getvalue()], params={"angle": 500})
    assert ".." not in reply.message, reply.message
