"""Parameter extraction and clamping (pipeline.understand.params): table-driven, words as well as digits."""

import pytest

from pipeline.understand.limits import clamp_params
from pipeline.understand.params import extract_negative, extract_params

# (intent, message, expected subset of the extracted parameters)
CASES = [
    # counts: digits, words, phrases; a number of things in the scene is not a count of images
    ("image_generation", "generate 3 images of a red fox in the snow", {"count": 3}),
    ("image_generation", "give me two versions of a poster", {"count": 2}),
    ("image_generation", "a couple of pictures of a treehouse", {"count": 2}),
    ("image_generation", "half a dozen options for a bakery logo", {"count": 6}),
    ("image_generation", "make a dozen pictures of clouds", {"count": 12}),
    ("image_generation", "a gorilla in a suit, 2 images", {"count": 2}),
    # sizes and aspect ratios
    ("image_generation", "a sunset over the sea, 1024x768", {"width": 1024, "height": 768}),
    ("image_generation", "a banner 1200 by 400 with waves", {"width": 1200, "height": 400}),
    ("image_generation", "a wallpaper 1920×1080", {"width": 1920, "height": 1080}),
    ("image_generation", "width 640 height 480, a bunch of balloons", {"width": 640, "height": 480}),
    ("image_generation", "a castle in the clouds, wide 16:9", {"aspect": "16:9"}),
    ("image_generation", "a tall 9 : 16 poster of a rock band", {"aspect": "9:16"}),
    ("image_generation", "a desert road, 16 by 9", {"aspect": "16:9"}),
    ("image_generation", "a square image of a sushi platter", {"aspect": "1:1"}),
    # seed and steps
    ("image_generation", "a lighthouse, use seed 42", {"seed": 42}),
    ("image_generation", "seed=7, a koi pond", {"seed": 7}),
    ("image_generation", "a robot bartender, 30 steps", {"steps": 30}),
    ("image_generation", "steps: 25, a bowl of ramen, seed: 8", {"steps": 25, "seed": 8}),
    ("image_generation", "a misty forest with forty steps", {"steps": 40}),
    # negatives
    ("image_generation", "a red sports car, no people, no text", {"negative": ["people", "text"]}),
    ("image_generation", "a city without cars or people, avoid text", {"negative": ["cars", "people", "text"]}),
    ("image_generation", "a portrait of a knight, not blurry", {"negative": ["blurry"]}),
    # upscale factors
    ("upscale", "upscale this image 4x", {"scale": 4}),
    ("upscale", "upscale x3 please", {"scale": 3}),
    ("upscale", "make it twice as big", {"scale": 2}),
    ("upscale", "quadruple the resolution", {"scale": 4}),
    ("upscale", "triple the size", {"scale": 3}),
    ("upscale", "make it four times larger", {"scale": 4}),
    ("upscale", "upscale by a factor of three", {"scale": 3}),
    ("upscale", "double the resolution", {"scale": 2}),
    ("upscale", "scale it 400%", {"scale": 4}),
    # edits: operation, angle (magnitude), direction, strength in words
    ("image_edit", "rotate this image 90 degrees", {"operation": "rotate", "angle": 90}),
    ("image_edit", "rotate left by 90", {"operation": "rotate", "angle": 90, "direction": "counterclockwise"}),
    ("image_edit", "rotate it -90", {"operation": "rotate", "angle": 90}),
    ("image_edit", "turn it ninety degrees clockwise", {"operation": "rotate", "angle": 90, "direction": "clockwise"}),
    ("image_edit", "rotate it one hundred and eighty degrees", {"operation": "rotate", "angle": 180}),
    ("image_edit", "rotate 45°", {"operation": "rotate", "angle": 45}),
    ("image_edit", "turn it upside down", {"operation": "rotate", "angle": 180}),
    ("image_edit", "flip the image horizontally", {"operation": "flip", "direction": "horizontal"}),
    ("image_edit", "mirror it top to bottom", {"operation": "flip", "direction": "vertical"}),
    ("image_edit", "crop it to 4:3", {"operation": "crop", "aspect": "4:3"}),
    ("image_edit", "resize it to 800x600", {"operation": "resize", "width": 800, "height": 600}),
    ("image_edit", "make it 50% smaller", {"operation": "resize", "scale": 0.5}),
    ("image_edit", "convert it to black and white", {"operation": "grayscale"}),
    ("image_edit", "b&w please", {"operation": "grayscale"}),
    ("image_edit", "make it a bit brighter", {"operation": "brightness", "factor": 1.15}),
    ("image_edit", "much darker", {"operation": "brightness", "factor": 0.4}),
    ("image_edit", "increase the contrast a little", {"operation": "contrast", "factor": 1.15}),
    ("image_edit", "desaturate it slightly", {"operation": "saturation", "factor": 0.85}),
    ("image_edit", "make the colours pop", {"operation": "saturation"}),
    ("image_edit", "blur the image slightly", {"operation": "blur", "strength": 0.15}),
    ("image_edit", "sharpen it", {"operation": "sharpen"}),
    # object removal targets (the label appears in the target)
    ("object_removal", "remove the car from the photo", {"target": "car"}),
    ("object_removal", "erase the person on the left", {"target": "person on the left"}),
    ("object_removal", "can you take out the power lines please", {"target": "power lines"}),
    ("object_removal", "get rid of all the tourists in the background", {"target": "tourists in the background"}),
    ("object_removal", "make the dog disappear", {"target": "dog"}),
    ("object_removal", "there's a fly on the cake, remove it", {"target": "fly"}),
    ("object_removal", "clean up the scratches on this old photo", {"target": "scratches"}),
    # styles as written
    ("style_transfer", "make it look like a Van Gogh painting", {"style": "van gogh painting"}),
    ("style_transfer", "render this photo in the style of Monet", {"style": "monet"}),
    ("style_transfer", "give it a ukiyo-e look", {"style": "ukiyo-e"}),
    ("style_transfer", "turn my selfie into pixel art", {"style": "pixel art"}),
    ("style_transfer", "make it look like it was painted by picasso", {"style": "picasso"}),
    ("style_transfer", "cartoonify me", {"style": "cartoon"}),
    ("style_transfer", "make this photo charcoal-style", {"style": "charcoal"}),
    # replacement backgrounds
    ("background_removal", "make the background transparent", {"background": "transparent"}),
    ("background_removal", "put it on a white background", {"background": "white"}),
    ("background_removal", "replace the background with solid black", {"background": "black"}),
    ("background_removal", "cut out the dog and put it on light blue", {"background": "light blue"}),
    ("background_removal", "background: grey", {"background": "gray"}),
]


@pytest.mark.parametrize("intent,text,expected", CASES, ids=[c[1][:40] for c in CASES])
def test_extracts_what_the_text_states(intent, text, expected):
    params = extract_params(text, intent)
    for key, value in expected.items():
        assert params.get(key) == value, (key, params)


@pytest.mark.parametrize("intent,text,absent", [
    ("image_generation", "two cats playing with yarn", "count"),  # cats, not images
    ("image_generation", "no, I want a red car", "negative"),
    ("image_generation", "a photo of a lighthouse", "seed"),
    ("upscale", "upscale it", "scale"),
    ("image_edit", "rotate left by 90", "scale"),  # "by 90" is the angle
    ("object_removal", "remove it", "target"),  # the thing is in the painted mask
    ("background_removal", "remove the background", "background"),
])
def test_does_not_invent_parameters(intent, text, absent):
    assert absent not in extract_params(text, intent)


def test_negative_terms_keep_order_and_drop_repeats():
    assert extract_negative("no text, without people, no text, avoid watermarks") == ["text", "people", "watermarks"]
    assert extract_negative("no more than that, no problem") == []


@pytest.mark.parametrize("intent,params,expected,note_part", [
    ("image_generation", {"count": 12}, {"count": 8}, "outside 1–8"),
    ("image_generation", {"width": 3000, "height": 50}, {"width": 2048, "height": 64}, "outside 64–2048"),
    ("image_generation", {"width": 1023}, {"width": 1024}, "multiple of 8"),
    ("image_generation", {"steps": 500}, {"steps": 150}, "outside 1–150"),
    ("upscale", {"scale": 8}, {"scale": 4}, "8x"),
    ("upscale", {"scale": 1}, {"scale": 2}, "1x"),
    ("upscale", {"scale": 2.5}, {"scale": 3}, "whole factors"),
    ("image_edit", {"angle": 450}, {"angle": 90}, None),
])
def test_clamping_fits_limits_and_says_so(intent, params, expected, note_part):
    clamped, notes = clamp_params(intent, params)
    for key, value in expected.items():
        assert clamped[key] == value
    if note_part:
        assert any(note_part in n for n in notes), notes
    else:
        assert notes == []


def test_values_inside_the_limits_pass_unchanged_and_silently():
    params = {"count": 4, "width": 1024, "height": 768, "steps": 30, "seed": 42}
    assert clamp_params("image_generation", params) == (params, [])
    assert clamp_params("upscale", {"scale": 4}) == ({"scale": 4}, [])


def test_a_non_number_is_dropped_with_a_note():
    clamped, notes = clamp_params("image_generation", {"count": "lots"})
    assert "count" not in clamped and notes
