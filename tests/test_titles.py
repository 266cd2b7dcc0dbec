"""Chat titles: the first request's words, tidied, plus the first image's file name when it says something."""

import pytest
from PIL import Image

from pipeline.run.titles import image_name, session_title
from tests.image_util import png
from tests.pipeline_util import ALICE, make_pipeline, send


@pytest.mark.parametrize("text,images,title", [
    ("remove the background", ["/tmp/gradio/9f1c/cat_on-sofa.JPG"], "Remove the background · cat on sofa"),
    ("remove the background", ["/tmp/gradio/77aa/astronaut.png"], "Remove the background · astronaut"),
    ("hey, could you please erase the cup?", [], "Erase the cup"),
    ("upscale it 4x thanks!", [{"path": "/tmp/gradio/tmp8d2k.png", "orig_name": "holiday-2019.png"}],
     "Upscale it 4x · holiday 2019"),
    ("remove the background", ["/tmp/gradio/1/image.png"], "Remove the background"),  # a name that says nothing
    ("", ["/tmp/uploads/portrait_of_grandma.jpg"], "portrait of grandma"),
    ("", [], "New chat"),
])
def test_titles_from_words_and_the_first_image(text, images, title):
    assert session_title(text, images) == title


def test_long_requests_and_names_are_cut_at_a_word():
    title = session_title("draw a lighthouse on a rocky cliff in a storm at night with huge waves and seagulls",
                          ["/x/a_very_long_file_name_from_my_phone_camera_roll.jpg"])
    words, name = title.split(" · ")
    assert words.endswith("…") and len(words) <= 49 and words.startswith("Draw a lighthouse")
    assert name.endswith("…") and len(name) <= 29


@pytest.mark.parametrize("source", ["/tmp/gradio/0123456789abcdef0123/blob.png", "/tmp/3f2a9c0d4e5b6a7c8d9e.png",
                                    "/tmp/tmpk3j2l1.png", "/tmp/gradio/x/12345.png", b"\x89PNG"])
def test_names_that_say_nothing_are_left_out(source):
    assert image_name(source) == ""


def test_two_chats_that_start_alike_on_different_photos_are_told_apart(settings, astronaut, tmp_path):
    pipe, store = make_pipeline(settings)
    try:
        titles = []
        for name in ("astronaut.png", "moon_landing.png"):
            path = tmp_path / name
            path.write_bytes(png(astronaut.resize((64, 64))))
            reply = send(pipe, "make it black and white", images=[str(path)])
            titles.append(store.get_session(reply.session_id, ALICE).title)
        assert titles == ["Make it black and white · astronaut", "Make it black and white · moon landing"]
        words_only = send(pipe, "make it black and white", images=[png(astronaut)])
        assert store.get_session(words_only.session_id, ALICE).title == "Make it black and white"
    finally:
        store.close()


def test_a_pil_image_opened_from_a_file_is_named_by_it(tmp_path, astronaut):
    path = tmp_path / "red_panda.png"
    astronaut.resize((16, 16)).save(path)
    with Image.open(path) as image:
        assert image_name(image) == "red panda"
