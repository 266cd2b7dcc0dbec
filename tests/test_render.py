"""Rendering stored messages into chat messages: what-ran block, inline images, chips as opaque ids, inert text."""

from types import SimpleNamespace

import pytest

from ui.chips import ChipIds
from ui.render import inert, options_for, render_history


def row(role, content, images=(), metadata=None, id=1):
    return SimpleNamespace(id=id, role=role, content=content, images=[SimpleNamespace(path=p) for p in images],
                           metadata=metadata or {})


META = {"intent": "image_edit", "confidence": 0.91, "backend": "pillow", "timings_ms": {"total_ms": 12.5},
        "candidates": [["image_edit", 0.91], ["upscale", 0.05]],
        "actions": [{"id": "reroute:upscale", "label": "Not what I meant → Upscale", "message": "make it bigger",
                     "context": {"force_intent": "upscale"}},
                    {"id": "regenerate", "label": "Regenerate", "message": "regenerate", "context": {"force_intent": "image_generation"}}],
        "suggestions": ["Upscale it 2x"]}


def test_history_renders_images_inline_with_a_what_ran_block_and_chips_on_the_last_reply():
    rows = [row("user", "make it bigger", ["/in.png"]), row("assistant", "Done.", ["/out.png"], META),
            row("user", "thanks"), row("assistant", "You're welcome", [], {**META, "intent": "chat"})]
    chat = render_history(rows, chip_id=lambda r, slot: f"id-{slot}")
    assert chat[0] == {"role": "user", "content": ["make it bigger", {"path": "/in.png"}]}
    assert chat[1]["metadata"]["title"].startswith("What ran: ") and "pillow" in chat[1]["metadata"]["title"]
    assert "upscale 0.05" in chat[1]["content"]
    assert chat[2]["content"] == ["Done.", {"path": "/out.png"}] and "options" not in chat[2]
    assert chat[-1]["options"] == [{"label": "Regenerate", "value": "id-0"}, {"label": "Upscale it 2x", "value": "id-1"},
                                   {"label": "Not what I meant → Upscale", "value": "id-2"}]


def test_chip_order_and_the_context_stays_on_the_server():
    options = options_for(META)
    assert [o["label"] for o in options] == ["Regenerate", "Upscale it 2x", "Not what I meant → Upscale"]
    assert options[-1]["message"] == "make it bigger" and options[-1]["context"] == {"force_intent": "upscale"}
    chat = render_history([row("assistant", "Done.", [], META, id=42)],
                          chip_id=lambda r, slot: ChipIds("s").for_message("alice", r.id, slot))
    values = [o["value"] for o in chat[-1]["options"]]
    assert all("upscale" not in v and "{" not in v for v in values)  # nothing of the context reaches the browser


def test_chip_ids_are_bound_to_their_owner_and_cannot_be_forged():
    ids = ChipIds("server-secret")
    value = ids.for_message("alice", 42, 1)
    assert ids.parse("alice", value) == ("m2a", "1")
    assert ids.parse("bob", value) is None  # another owner
    assert ids.parse("alice", value.replace(".1.", ".2.")) is None  # another slot, same tag
    assert ids.parse("alice", ChipIds("other-secret").for_message("alice", 42, 1)) is None
    for hostile in ('{"message": "x", "context": {"mask": "/dev/zero"}}', "/etc/passwd", None, 5, "m1.0." + "0" * 24,
                    {"value": value + "x"}, "x" * 10_000):
        assert ids.parse("alice", hostile) is None
    assert ids.parse("alice", {"value": value}) == ("m2a", "1")
    assert ids.parse("alice", ids.for_run("alice", "ab" * 16, "brush")) == ("r" + "ab" * 16, "brush")


@pytest.mark.parametrize("text", ["![x](http://evil.example/track.png)", "[click](javascript:alert(1))",
                                  '<img src="http://evil.example/a.png">', "<form action=http://e/><input></form>",
                                  "<iframe src=http://e></iframe>", "see http://evil.example/a.png",
                                  "ref ![x][r]\n\n[r]: http://evil.example/b.png", "\\![x](http://e/i.png)",
                                  "`![x](http://e/i.png)``", "www.evil.example/a.png"])
def test_message_text_renders_inert(text):
    import markdown_it

    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(inert(text, code=False))
    assert "<img" not in html and "<a " not in html and "<form" not in html and "<iframe" not in html, html
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(inert(text))
    assert "<img" not in html and "<a " not in html and "<form" not in html and "<iframe" not in html, html


def test_inert_keeps_the_servers_code_spans():
    assert inert("Run `pip install x[y]` then") == "Run `pip install x[y]` then"
    assert inert("a [b]") == "a \\[b\\]"


def test_the_operator_fold_keeps_a_fix_that_already_marks_its_code():
    """A fix written as prose with `code` in it is not wrapped in backticks again (that swapped code and text)."""
    from ui.render import operator_part

    error = {"code": "capability_unavailable", "message": "Image generation isn't set up on this server yet.",
             "fixes": ["Run `python -m models.download image_generation` once", "pip install diffusers"]}
    part = operator_part({"error": error})
    assert "- Run `python -m models.download image_generation` once" in part
    assert "- `pip install diffusers`" in part and "``" not in part


def test_two_chats_with_the_same_words_are_told_apart_by_their_time():
    from ui.handlers import session_label

    noon, evening = 1_796_558_400.0, 1_796_558_400.0 + 7 * 3600  # the same day
    first = session_label("Remove the background", 2, noon, now=evening)
    second = session_label("Remove the background", 2, evening, now=evening)
    assert first != second and first.startswith("Remove the background · 2 messages · ")
    older = session_label("Remove the background", 2, noon - 3 * 86400, now=evening)
    assert older.split(" · ")[-1][0].isdigit() and ":" not in older.split(" · ")[-1]  # a date, not a time
