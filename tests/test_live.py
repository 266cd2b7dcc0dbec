"""The browser's live chat without a browser: the run board, LiveChat on the real pipeline and store, rendering.

A slow, cancellable backend stands in for a model run, so ordering, waiting, stopping and progress are checked
on real threads with real SQLite files.
"""

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from models.cache import ModelCache
from models.contracts import Backend, CapabilityResult, OutputImage
from models.registry import build_registry
from tests.image_util import png
from tests.pipeline_util import make_pipeline
from ui.capabilities_view import render_capabilities
from ui.handlers import Handlers, session_label
from ui.layout import hf_login_enabled
from ui.live import LiveChat, brush_size
from ui.render import options_for, progress_html, render_history, what_ran, what_ran_details
from ui.runs import DONE, RUNNING, STOPPED, STOPPING, WAITING, Run, RunBoard


class Slow(Backend):
    """An edit that takes `seconds`, reports three steps and stops at its next check when cancelled."""
    name, capability, uses_model = "slow", "image_edit", True
    seconds = 1.5

    def run(self, handle, request):
        for step in range(3):
            request.report(step / 3, f"Step {step + 1} of 3")
            deadline = time.time() + self.seconds / 3
            while time.time() < deadline:
                if request.cancelled():
                    from core.errors import Cancelled
                    raise Cancelled("Stopped. Nothing was changed.")
                time.sleep(0.02)
        return CapabilityResult(images=[OutputImage(request.images[0].image.rotate(90))], message="Rotated.")


@pytest.fixture
def live(settings, tmp_path):
    settings = settings.replace(owner_secret="live-test-secret")
    registry = build_registry(settings, ModelCache(2**30))
    registry.get("image_edit").backends[:] = [Slow(settings)]
    pipeline, store = make_pipeline(settings, registry=registry)
    handlers = Handlers(settings, pipeline, store, registry, pipeline.router, export_dir=tmp_path / "exports")
    (tmp_path / "uploads").mkdir()
    chat = LiveChat(handlers, upload_folder=tmp_path / "uploads")
    yield chat
    chat.board.close()
    store.close()


def upload(live, data: bytes, name="photo.png") -> str:
    """What Gradio does with a file the browser sends: it lands in the upload folder."""
    path = Path(live.upload_folder) / f"{len(list(Path(live.upload_folder).iterdir()))}-{name}"
    path.write_bytes(data)
    return str(path)


def tab(name="tab-1"):
    return SimpleNamespace(session_hash=name, username=None)


def wait(run, timeout=30):
    assert run.finished.wait(timeout), run.state


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return png(Image.fromarray(data.astronaut()).resize((128, 128)))


# ---- the run board ---------------------------------------------------------------------------------------------
def test_runs_of_one_chat_go_in_order_and_a_stopped_waiter_never_runs():
    board, started = RunBoard(), []
    gate = threading.Event()

    def work(run, session_id):
        started.append(run.text)
        gate.wait(5)
        return SimpleNamespace(session_id=session_id, message_id=1, metadata={}, type="text")

    first = board.add(Run(owner="o", tab="t", chat="s1", text="first"))
    second = board.add(Run(owner="o", tab="t", chat="s1", text="second"))
    third = board.add(Run(owner="o", tab="t", chat="s1", text="third"))
    other_chat = board.add(Run(owner="o", tab="t", chat="s2", text="elsewhere"))
    for run in (first, second, third, other_chat):
        board.start(run, work)
    time.sleep(0.5)
    assert first.state == RUNNING and second.state == WAITING and third.state == WAITING
    assert "elsewhere" in started  # another chat does not wait
    third.cancel.set()
    gate.set()
    for run in (first, second, third, other_chat):
        wait(run)
    assert started.count("first") == 1 and started.index("first") < started.index("second")
    assert "third" not in started and third.state == STOPPED and first.state == DONE


def test_stop_marks_the_runs_of_the_chat_at_once():
    board = RunBoard()
    running = board.add(Run(owner="o", tab="t", chat="s", text="a"))
    running.state = RUNNING
    waiting = board.add(Run(owner="o", tab="t", chat="s", text="b"))
    untouched = board.add(Run(owner="o", tab="t", chat="other", text="c"))
    stopped = board.stop("o", "s")
    assert set(map(id, stopped)) == {id(running), id(waiting)}
    assert running.state == STOPPING and waiting.state == STOPPED and untouched.state == WAITING
    assert running.cancel.is_set() and not untouched.cancel.is_set()


def test_a_run_paints_only_a_tab_that_shows_its_chat():
    board = RunBoard()
    run = board.add(Run(owner="o", tab="t1", chat="s1", text="x"))
    board.set_view("t1", "o", "s1")
    assert board.viewing("t1", run)
    board.set_view("t1", "o", "s2")  # the person opened another chat
    assert not board.viewing("t1", run)
    board.set_view("t2", "someone-else", "s1")
    assert not board.viewing("t2", run)


# ---- LiveChat on the real pipeline -------------------------------------------------------------------------------
def test_send_echoes_at_once_with_progress_then_the_reply(live, photo):
    state, owner = {}, None
    owner, state = live.identity(state, tab())
    run = live.send("rotate it 90 degrees", [upload(live, photo)], state, owner, tab())
    chat = run.chat
    assert chat.startswith("draft:") and state["draft"] == chat  # nothing is stored before the pipeline stores it
    assert live.store.list_sessions(owner) == []
    listed = live.sessions(owner, chat)  # but the chat list shows it while its first request runs
    assert listed["choices"][0][1] == chat and "sending" in listed["choices"][0][0] and listed["value"] == chat
    shown = live.render(owner, chat)
    assert shown[0]["role"] == "user" and shown[0]["content"][0] == "rotate it 90 degrees"
    assert "Waiting" in shown[-1]["content"] or "Working" in shown[-1]["content"]
    live.start(run)
    deadline = time.time() + 20
    stages = set()
    while not run.finished.is_set() and time.time() < deadline:
        stages.add(run.stage)
        time.sleep(0.05)
    wait(run)
    assert {"Step 1 of 3", "Step 2 of 3"} & stages  # the backend's progress reached the bubble's source
    session_id = live.store.list_sessions(owner)[0].id
    assert run.chat == session_id and live.look_at(state, owner, tab()) == session_id  # the draft became the chat
    assert state["session_id"] == session_id and "draft" not in state
    final = live.render(owner, session_id)
    assert [m["role"] for m in final if "metadata" not in m] == ["user", "assistant"]
    assert final[-1]["content"][0] == "Rotated." and "<progress" not in str(final)


def test_a_second_message_waits_visibly_and_stop_keeps_nothing(live, photo):
    owner, state = live.identity({}, tab())
    first = live.send("rotate it 90 degrees", [upload(live, photo)], state, owner, tab())
    second = live.send("rotate it again", [], state, owner, tab())
    assert second.chat == first.chat
    live.start(first)
    live.start(second)
    time.sleep(0.4)
    bubbles = [m["content"] for m in live.render(owner, first.chat) if m["role"] == "assistant"]
    assert "Waiting for your previous request" in bubbles[-1]
    live.stop(state, owner, tab())
    assert "Stopped." in live.render(owner, first.chat)[-1]["content"]  # said at once, before the thread ends
    wait(first)
    wait(second)
    rows = live.store.history(first.chat, owner)
    assert [r.role for r in rows] == ["user", "assistant"]  # the waiting message was never sent
    assert rows[-1].metadata["error"]["code"] == "cancelled" and not rows[-1].images
    assert len(live.store.images_of_session(first.chat, owner)) == 1  # only the upload: nothing half-written


def test_a_refused_first_message_leaves_no_empty_chat(live):
    owner, state = live.identity({}, tab())
    run = live.send("x" * (live.handlers.settings.max_prompt_chars + 1), [], state, owner, tab())
    live.start(run)
    wait(run)
    assert run.response.type == "error" and run.response.message_id is None
    assert live.store.list_sessions(owner) == []
    shown = live.render(owner, run.chat)  # the refusal is still on screen for the tab that sent it
    assert "characters long" in str(shown[-1]["content"])


def test_brush_opens_on_the_image_with_a_fitting_size_and_keeps_strokes(live, photo):
    owner, state = live.identity({}, tab())
    run = live.send("rotate it 90 degrees", [upload(live, photo)], state, owner, tab())
    live.start(run)
    wait(run)
    painted = live.open_brush(owner, run.chat)
    assert painted is not None and painted.size == brush_size(128, 128) == 4
    strokes = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    strokes.paste((255, 0, 64, 255), (10, 10, 30, 30))
    live.paint(owner, run.chat, strokes)
    restored = live.restore_brush(owner, run.chat)  # what a reload shows
    assert restored.strokes_path and Image.open(restored.strokes_path).getbbox() == (10, 10, 30, 30)
    follow = live.send("erase it", [], state, owner, tab())
    assert follow.used_mask and follow.context["image_ids"] == [painted.image_id]


def test_saved_strokes_stay_in_this_instance_and_go_with_a_cleared_canvas_and_a_deleted_chat(live, photo):
    owner, state = live.identity({}, tab())
    run = live.send("rotate it 90 degrees", [upload(live, photo)], state, owner, tab())
    live.start(run)
    wait(run)
    strokes = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    strokes.paste((255, 0, 64, 255), (10, 10, 30, 30))
    live.open_brush(owner, run.chat)
    saved = Path(live.paint(owner, run.chat, strokes).strokes_path)
    assert saved.parent == live.handlers.brush_dir and saved.exists()
    live.paint(owner, run.chat, None)  # the canvas cleared
    assert not saved.exists()
    saved = Path(live.paint(owner, run.chat, strokes).strokes_path)
    live.delete(state, owner, tab())
    assert not saved.exists() and live.board.brush(owner, run.chat) is None


def test_brush_size_fits_the_image():
    assert brush_size(512, 512) == 13 and brush_size(4000, 3000) == 64 and brush_size(40, 40) == 4


# ---- rendering -----------------------------------------------------------------------------------------------------
def test_progress_bubble_states():
    run = Run(owner="o", tab="t", chat="s", text="x")
    assert "Waiting for your previous request" in progress_html(run)
    run.state, run.stage, run.fraction = RUNNING, "Step 3 of 4", 0.5
    bubble = progress_html(run)
    assert "Step 3 of 4" in bubble and 'value="0.50"' in bubble and "50%" in bubble
    run.state = STOPPING
    assert "Stopped." in progress_html(run)


def test_what_ran_card_shows_executor_cache_and_plan():
    meta = {"intent": "upscale", "confidence": 0.9, "backend": "ncnn", "executor": "remote:gpu-1", "cache_hit": True,
            "timings_ms": {"total_ms": 1500.0},
            "plan": [{"intent": "background_removal", "label": "Remove the background", "status": "done", "message": ""},
                     {"intent": "upscale", "label": "Upscale 2x", "status": "failed", "message": "out of memory"},
                     {"intent": "image_edit", "label": "Rotate", "status": "skipped", "message": ""}]}
    title, details = what_ran(meta), what_ran_details(meta)
    assert "on remote:gpu-1" in title and "from the result cache" in title and "1 of 3 steps" in title
    assert "1. ✓ Remove the background — done" in details
    assert "2. ✗ Upscale 2x — failed: out of memory" in details and "3. – Rotate — skipped" in details
    assert "executor: remote:gpu-1" in details and "result cache: hit" in details
    local = what_ran({"intent": "upscale", "confidence": 0.9, "executor": "local", "cache_hit": False})
    assert "on local" not in local and "cache" not in local


def _row(role, content, metadata=None, images=()):
    return SimpleNamespace(role=role, content=content, metadata=metadata or {}, images=list(images))


def test_unavailable_is_one_sentence_with_the_fix_folded_for_the_operator():
    error = {"code": "capability_unavailable", "message": "Image generation isn't set up on this server yet.",
             "capability": "image_generation", "operator": "diffusers: the weights are not in the cache",
             "fixes": ["python -m models.download image_generation"], "suggestions": []}
    chat = render_history([_row("user", "create a fantasy dragon"),
                           _row("assistant", error["message"], {"intent": "image_generation", "confidence": 0.99,
                                                                "error": error, "chips": []})])
    operator = next(m for m in chat if m.get("metadata", {}).get("title", "").startswith("For the operator"))
    assert "`python -m models.download image_generation`" in operator["content"] and operator["metadata"]["status"] == "done"
    assert chat[-1]["content"] == "Image generation isn't set up on this server yet."
    # raised by a backend with an operator's message: the creator still reads one sentence
    legacy = {"code": "capability_unavailable", "message": "Image generation cannot run here: HF_HUB_OFFLINE is set",
              "suggestions": ["run python -m models.download image_generation"]}
    chat = render_history([_row("assistant", legacy["message"], {"intent": "image_generation", "error": legacy,
                                                                  "suggestions": legacy["suggestions"]})])
    assert chat[-1]["content"] == "Image generation isn't set up on this server yet."
    assert "options" not in chat[-1]  # the command is not a chip
    assert "HF_HUB_OFFLINE" in next(m for m in chat if "metadata" in m and "operator" in m["metadata"]["title"])["content"]


def test_tips_are_text_and_chips_come_from_the_pipeline():
    meta = {"tips": ["Attach both images (the face first, then the target picture)."],
            "chips": [{"id": "suggest:0", "label": "Upscale it 2x", "message": "Upscale it 2x",
                       "context": {"image_ids": ["a" * 64]}, "kind": "follow_up"}]}
    chat = render_history([_row("assistant", "A face swap needs two images.", meta)])
    assert "*Tip: Attach both images" in chat[-1]["content"]
    assert [o["label"] for o in options_for(meta)] == ["Upscale it 2x"]
    assert options_for(meta)[0]["context"] == {"image_ids": ["a" * 64]}  # bound to its image (kept on the server)


def test_capabilities_view_is_a_short_list_with_details_folded_and_renders_unknown_blocks():
    listing = {"capabilities": [
        {"name": "upscale", "available": True, "note": "", "backends": [
            {"name": "ncnn", "status": "ready", "reason": "", "fix": "", "licence": "Apache-2.0"}]},
        {"name": "image_generation", "available": False, "note": "", "backends": [
            {"name": "diffusers", "status": "missing", "reason": "weights not in the cache",
             "fix": "python -m models.download image_generation", "licence": "MIT"}]}],
        "router": {"classifier": "rules + words"},
        "runtime": {"executor": "ray", "workers": 2, "warnings": ["the GPU is not visible to torch"]}}
    html = render_capabilities(listing)
    assert "<table" not in html and html.count("<details") == 4
    assert "✅ <b>Upscaling</b> <small>by ncnn</small>" in html
    assert "⛔ <b>Image generation</b> <small>not set up here</small>" in html
    assert "<code>python -m models.download image_generation</code>" in html
    assert "<b>Runtime</b>" in html and "<b>executor</b>: ray" in html
    assert html.index("⚠️ the GPU is not visible to torch") < html.index("<b>Runtime</b>")  # not folded away


def test_session_labels_say_what_the_number_is():
    assert session_label("create a fantasy dragon", 2) == "create a fantasy dragon · 2 messages"
    assert session_label("", 1) == "New chat · 1 message"


# ---- Sign in with Hugging Face -------------------------------------------------------------------------------------
def test_hf_login_only_on_a_space_with_oauth(settings):
    space = {"SYSTEM": "spaces", "SPACE_ID": "me/gateway", "OAUTH_CLIENT_ID": "abc"}
    assert hf_login_enabled(settings, space)
    assert not hf_login_enabled(settings, {"SYSTEM": "spaces", "SPACE_ID": "me/gateway"})  # no hf_oauth on the Space
    assert not hf_login_enabled(settings, {"SPACE_ID": "me/gateway", "OAUTH_CLIENT_ID": "abc"})  # not a Space
    assert not hf_login_enabled(settings, {})
    assert not hf_login_enabled(settings.replace(hf_login="off"), space)


def test_the_signed_in_account_owns_the_chats_and_anonymous_use_keeps_working(live):
    profile = SimpleNamespace(username="alice", name="Alice")
    alice_here, _ = live.identity({"token": "browser-one-token-123456"}, tab(), profile)
    alice_there, _ = live.identity({"token": "another-browser-token-987"}, tab("t2"), profile)
    assert alice_here == alice_there  # her chats follow her account to any browser
    anonymous, state = live.identity({}, tab(), None)
    assert state["token"] and anonymous != alice_here
    again, _ = live.identity(state, tab(), None)
    assert again == anonymous
    local_user, _ = live.identity({}, SimpleNamespace(session_hash="t", username="alice"), None)
    assert local_user != alice_here  # a GATEWAY_AUTH user "alice" is not the Hugging Face account "alice"


# ---- what the browser sends is untrusted ----------------------------------------------------------------------------
def test_abandoned_sends_expire_and_never_wedge_a_chat_or_anybody_else(live, photo, monkeypatch):
    """Sixteen sends whose run event never comes: they expire with nothing stored and their memory released;
    the same chat's next message runs, and another owner is answered at once."""
    import ui.runs as runs

    monkeypatch.setattr(runs, "LAUNCH_WAIT_S", 0.5)
    live.board.per_owner = 32
    owner, state = live.identity({}, tab("attacker"))
    abandoned = [live.send(f"rotate it {i}", [upload(live, photo)], state, owner, tab("attacker")) for i in range(16)]
    assert all(r is not None and r.state == WAITING for r in abandoned)
    other, other_state = live.identity({}, tab("bystander"))
    started = time.perf_counter()
    run = live.send("rotate it 90 degrees", [upload(live, photo)], other_state, other, tab("bystander"))
    live.start(run)
    wait(run)
    assert run.response.type == "image" and time.perf_counter() - started < 10
    time.sleep(0.7)
    late = live.send("rotate it once more", [upload(live, photo)], state, owner, tab("attacker"))
    live.start(late)
    wait(late)  # waits for no expired predecessor
    assert late.response.type == "image"
    for stale in abandoned:
        live.start(stale)  # a run event that arrives after the expiry starts nothing
    time.sleep(0.3)
    assert all(r.state == STOPPED and not r.files and not r.context for r in abandoned)
    assert all(live.board.get(r.ticket) is None for r in abandoned)  # dropped: nothing holds their files
    sessions = live.store.list_sessions(owner)
    assert len(sessions) == 1 and live.store.message_count(sessions[0].id, owner) == 2  # only the late message


def test_each_owner_has_a_small_cap_on_runs_in_flight_and_hears_why(live, photo):
    owner, state = live.identity({}, tab())
    runs = [live.send(f"rotate it {i}", [upload(live, photo)], state, owner, tab()) for i in range(live.board.per_owner)]
    refused = live.send("one too many", [], state, owner, tab())
    assert all(r.state == WAITING for r in runs)
    assert refused.state == DONE and refused.response.error["code"] == "busy"
    assert "already have 4 requests" in str(live.render(owner, refused.chat)[-1]["content"])
    other, other_state = live.identity({}, tab("t2"))
    assert live.send("rotate it", [upload(live, photo)], other_state, other, tab("t2")).state == WAITING


def test_files_that_were_not_uploaded_are_never_read(live, photo, tmp_path):
    """The page's send event gets paths: only files inside Gradio's upload folder count, never the secret, the
    database, a device, a directory, a link out of the folder or this instance's own exports."""
    owner, state = live.identity({}, tab())
    first = live.send("rotate it", [upload(live, photo)], state, owner, tab())
    live.start(first)
    wait(first)
    secret = tmp_path / "owner_secret"
    secret.write_text("top secret")
    link = Path(live.upload_folder) / "link.png"
    link.symlink_to(secret)
    export = live.handlers.exportable(live.store.images_of_session(first.chat, owner)[0].path, owner)
    hostile = [str(secret), str(live.handlers.settings.db_path), "/dev/zero", "/root", "/etc/passwd", str(link),
               export, "../../" + str(secret), {"path": str(secret)}, None, 5, "", "\x00", str(Path(live.upload_folder))]
    run = live.send("rotate it", hostile, state, owner, tab())
    assert run.files == [] and run.echo_images == []
    assert live.send("", hostile, state, owner, tab()) is None  # nothing left to send


def test_a_chip_is_an_opaque_id_resolved_from_the_servers_copy(live, photo):
    owner, state = live.identity({}, tab())
    run = live.send("rotate it 90 degrees", [upload(live, photo)], state, owner, tab())
    live.start(run)
    wait(run)
    reply = live.render(owner, run.chat)[-1]
    assert reply["options"] and all("{" not in o["value"] for o in reply["options"])
    kind, what = live.chip(owner, reply["options"][0]["value"])
    row = live.store.history(run.chat, owner)[-1]
    assert kind == "send" and what == {"message": options_for(row.metadata)[0]["message"],
                                       "context": options_for(row.metadata)[0]["context"]}
    brush = next((o for o in reply["options"] if o["label"] == "Erase by painting"), None)
    if brush is not None:
        assert live.chip(owner, brush["value"]) == ("brush", row.images[0].id)
    other, _ = live.identity({}, tab("t2"))
    assert live.chip(other, reply["options"][0]["value"]) is None  # issued to another owner
    for hostile in ('{"message": "erase it", "context": {"mask": "/dev/zero"}}', "/root", None, {"value": 1},
                    reply["options"][0]["value"][:-1] + "0"):
        assert live.chip(owner, hostile) is None


def test_the_browser_state_is_reduced_to_known_shapes(live):
    from ui.browser_inputs import clean_state

    for hostile in (None, "x", [], {"token": "password"}, {"token": 5, "session_id": "../../etc"},
                    {"token": "a" * 5000, "draft": "draft:../x", "extra": {"mask": "/dev/zero"}}):
        state = clean_state(hostile, lambda: "N" * 22)
        assert set(state) <= {"token", "session_id", "draft"} and state["token"] == "N" * 22
        assert state["session_id"] == "" and "draft" not in state
    good = {"token": "T" * 22, "session_id": "a" * 32, "draft": "draft:" + "b" * 32}
    assert clean_state(good, lambda: "N" * 22) == good
