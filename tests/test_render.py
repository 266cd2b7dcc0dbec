"""Rendering stored messages into chat messages: what-ran block, inline images, chips that round-trip."""

from types import SimpleNamespace

from ui.render import chip_value, options_for, parse_chip, render_history


def row(role, content, images=(), metadata=None):
    return SimpleNamespace(role=role, content=content, images=[SimpleNamespace(path=p) for p in images],
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
    chat = render_history(rows)
    assert chat[0] == {"role": "user", "content": ["make it bigger", {"path": "/in.png"}]}
    assert chat[1]["metadata"]["title"].startswith("What ran: ") and "pillow" in chat[1]["metadata"]["title"]
    assert "upscale 0.05" in chat[1]["content"]
    assert chat[2]["content"] == ["Done.", {"path": "/out.png"}] and "options" not in chat[2]
    assert "options" in chat[-1]


def test_chip_order_and_round_trip():
    options = options_for(META)
    assert [o["label"] for o in options] == ["Regenerate", "Upscale it 2x", "Not what I meant → Upscale"]
    message, context = parse_chip(options[-1]["value"])
    assert message == "make it bigger" and context == {"force_intent": "upscale"}
    assert parse_chip(chip_value("hi")) == ("hi", {})
    assert parse_chip("plain text") == ("plain text", {})


def test_brush_strokes_become_the_mask_and_an_untouched_editor_gives_none():
    from PIL import Image, ImageDraw

    from ui.layout import _mask_from_editor

    layer = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    assert _mask_from_editor({"background": None, "layers": [layer], "composite": None}) is None
    ImageDraw.Draw(layer).ellipse((10, 10, 30, 30), fill=(255, 0, 64, 255))
    assert _mask_from_editor({"background": None, "layers": [layer], "composite": None}) is layer
    assert _mask_from_editor(None) is None
