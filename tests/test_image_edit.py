"""Tests of the image_edit capability: text parsing, geometry and pixels of every operation, RGBA handling,
compound edits, errors, the recipe, and running through the registry. All on the real astronaut photo."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.errors import CapabilityUnavailable, InvalidInput, MissingInput
from core.images import load_image
from models.cache import ModelCache
from models.contracts import CapabilityRequest, InputImage
from models.image_edit import capability
from models.image_edit.backend import PillowEditBackend
from models.image_edit.parse import parse_edit

PARSE_CASES = [
    # rotate: digits, words, directions, turns
    ("rotate it 90 degrees", {"operation": "rotate", "angle": 90, "direction": "clockwise"}),
    ("rotate left by 90", {"operation": "rotate", "angle": 90, "direction": "counterclockwise"}),
    ("Rotate it ninety degrees counter-clockwise", {"operation": "rotate", "angle": 90, "direction": "counterclockwise"}),
    ("rotate 45 degrees to the right", {"operation": "rotate", "angle": 45, "direction": "clockwise"}),
    ("rotate -30", {"operation": "rotate", "angle": 30, "direction": "counterclockwise"}),
    ("rotate it", {"operation": "rotate", "angle": 90, "direction": "clockwise"}),
    ("give it a quarter turn anticlockwise", {"operation": "rotate", "angle": 90, "direction": "counterclockwise"}),
    ("turn it upside down", {"operation": "rotate", "angle": 180}),
    ("turn it sideways", {"operation": "rotate", "angle": 90}),
    ("rotate by one hundred and eighty degrees", {"operation": "rotate", "angle": 180}),
    ("rotate this one forty-five degrees", {"operation": "rotate", "angle": 45}),
    ("roate it 270 degres", {"operation": "rotate", "angle": 270}),
    ("Rotate 90° CCW", {"operation": "rotate", "angle": 90, "direction": "counterclockwise"}),
    ("straighten it by 2.5 degrees", {"operation": "rotate", "angle": 2.5}),
    ("rotate 45 with a black background", {"operation": "rotate", "angle": 45, "fill": "black"}),
    ("rotate it a one-eighty", {"operation": "rotate", "angle": 180}),
    # flip
    ("flip it", {"operation": "flip", "axis": "horizontal"}),
    ("mirror the image", {"operation": "flip", "axis": "horizontal"}),
    ("flip vertically", {"operation": "flip", "axis": "vertical"}),
    ("flip it upside down", {"operation": "flip", "axis": "vertical"}),
    ("flip horizonatlly", {"operation": "flip", "axis": "horizontal"}),
    # crop
    ("crop to 16:9", {"operation": "crop", "aspect": "16:9"}),
    ("crop it square", {"operation": "crop", "aspect": "1:1"}),
    ("make it square", {"operation": "crop", "aspect": "1:1"}),
    ("crop to portrait", {"operation": "crop", "aspect": "3:4"}),
    ("crop to 100,50,400,300", {"operation": "crop", "box": [100, 50, 400, 300]}),
    ("crop x=10 y=20 w=100 h=50", {"operation": "crop", "box": [10, 20, 110, 70]}),
    ("crop 10% from each side", {"operation": "crop", "margins": {"left": 10, "top": 10, "right": 10, "bottom": 10}}),
    ("crop 20% off the top and bottom", {"operation": "crop", "margins": {"top": 20, "bottom": 20}}),
    ("crop the left half", {"operation": "crop", "margins": {"right": 50}}),
    ("keep only the top half", {"operation": "crop", "margins": {"bottom": 50}}),
    ("crpo to 4:3", {"operation": "crop", "aspect": "4:3"}),
    # resize
    ("resize to 800 wide", {"operation": "resize", "width": 800}),
    ("set the width to 640", {"operation": "resize", "width": 640}),
    ("make it 600 pixels tall", {"operation": "resize", "height": 600}),
    ("resize to 800x600", {"operation": "resize", "width": 800, "height": 600}),
    ("width 800 and height 600", {"operation": "resize", "width": 800, "height": 600}),
    ("resize by 50%", {"operation": "resize", "scale": 0.5}),
    ("shrink it by 25%", {"operation": "resize", "scale": 0.75}),
    ("half size", {"operation": "resize", "scale": 0.5}),
    ("make it twice as big", {"operation": "resize", "scale": 2}),
    ("double the size", {"operation": "resize", "scale": 2}),
    ("rezise to 1024 pixels", {"operation": "resize", "long_side": 1024}),
    ("resize so the height is 400", {"operation": "resize", "height": 400}),
    # brightness, contrast, saturation
    ("make it brighter", {"operation": "brightness", "factor": 1.3}),
    ("make it a bit brighter", {"operation": "brightness", "factor": 1.15}),
    ("slightly brighter please", {"operation": "brightness", "factor": 1.15}),
    ("much brighter", {"operation": "brightness", "factor": 1.6}),
    ("increase the brightness by 30%", {"operation": "brightness", "factor": 1.3}),
    ("less bright", {"operation": "brightness", "factor": 0.77}),
    ("make it darker", {"operation": "brightness", "factor": 0.77}),
    ("it's too dark", {"operation": "brightness", "factor": 1.3}),
    ("brigther", {"operation": "brightness", "factor": 1.3}),
    ("set brightness to 120%", {"operation": "brightness", "factor": 1.2}),
    ("increase contrast by 50%", {"operation": "contrast", "factor": 1.5}),
    ("less contrast", {"operation": "contrast", "factor": 0.77}),
    ("contarst up 20 percent", {"operation": "contrast", "factor": 1.2}),
    ("decrease saturation 20%", {"operation": "saturation", "factor": 0.8}),
    ("desaturate it", {"operation": "saturation", "factor": 0.5}),
    ("make the colours more vivid", {"operation": "saturation", "factor": 1.3}),
    ("more vibrant", {"operation": "saturation", "factor": 1.3}),
    ("make the colors pop", {"operation": "saturation", "factor": 1.3}),
    # grayscale
    ("make it black and white", {"operation": "grayscale"}),
    ("b&w", {"operation": "grayscale"}),
    ("turn it monochrome", {"operation": "grayscale"}),
    ("greyscale please", {"operation": "grayscale"}),
    ("convert to grey scale", {"operation": "grayscale"}),
    # sepia
    ("make it sepia", {"operation": "sepia"}),
    ("give the photo an old sepia tone", {"operation": "sepia"}),
    ("sepia-toned black and white", {"operation": "sepia"}),
    ("sepia-free black and white", {"operation": "grayscale"}),
    ("sepai please", {"operation": "sepia"}),
    # blur, sharpen
    ("blur it slightly", {"operation": "blur", "radius": 2}),
    ("blur it", {"operation": "blur", "radius": 4}),
    ("blur it heavily", {"operation": "blur", "radius": 10}),
    ("blur radius 7", {"operation": "blur", "radius": 7}),
    ("sharpen it a bit", {"operation": "sharpen", "strength": "light"}),
    ("sharpen", {"operation": "sharpen", "strength": "medium"}),
    ("sharpen it a lot", {"operation": "sharpen", "strength": "strong"}),
    ("make it less blurry", {"operation": "sharpen"}),
]


@pytest.mark.parametrize("text, expected", PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_edit(text, expected):
    parsed = parse_edit(text)
    assert {k: parsed.get(k) for k in expected} == expected, parsed


@pytest.mark.parametrize("text", ["edit it", "hello there", "", "make it nicer"])
def test_unparseable_text_gives_empty_dict(text):
    assert parse_edit(text) == {}


def test_parse_compound_keeps_order_and_first_operation_on_top():
    parsed = parse_edit("rotate 90 and make it black and white")
    assert [e["operation"] for e in parsed["operations"]] == ["rotate", "grayscale"]
    assert parsed["operation"] == "rotate" and parsed["angle"] == 90
    parsed = parse_edit("rotate it left, then crop to a square and make it a bit brighter")
    assert [e["operation"] for e in parsed["operations"]] == ["rotate", "crop", "brightness"]
    assert parsed["operations"][0]["direction"] == "counterclockwise"
    assert parsed["operations"][2]["factor"] == 1.15


# --- running the backend -----------------------------------------------------------------------------------------

def run_edit(settings, image, text="", params=None, image_id="parent-sha"):
    request = CapabilityRequest(capability="image_edit", text=text, params=dict(params or {}),
                                images=[InputImage(image=image, image_id=image_id)])
    return PillowEditBackend(settings).run(None, request)


def edited(settings, image, text, **kw):
    return run_edit(settings, image, text, **kw).images[0].image


def laplacian_variance(image):
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    lap = (-4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:])
    return lap.var()


@pytest.fixture(scope="module")
def wide(astronaut):
    return astronaut.crop((0, 0, 512, 300))  # 512x300, so rotations and crops change the shape visibly


@pytest.fixture(scope="module")
def astronaut_rgba(astronaut):
    rgba = astronaut.convert("RGBA")
    alpha = np.tile(np.linspace(0, 255, 512, dtype=np.uint8), (512, 1))  # a gradient: every value differs
    rgba.putalpha(Image.fromarray(alpha, "L"))
    return rgba


def test_rotate_quarter_turns_match_numpy(settings, wide):
    arr = np.asarray(wide)
    assert np.array_equal(np.asarray(edited(settings, wide, "rotate 90 degrees clockwise")), np.rot90(arr, k=-1))
    assert np.array_equal(np.asarray(edited(settings, wide, "rotate left")), np.rot90(arr, k=1))
    assert np.array_equal(np.asarray(edited(settings, wide, "turn it upside down")), np.rot90(arr, k=2))
    assert edited(settings, wide, "rotate 90").size == (300, 512)


def test_rotate_45_expands_canvas_with_white_corners_for_rgb(settings, astronaut):
    result = run_edit(settings, astronaut, "rotate 45 degrees")
    out = result.images[0].image
    assert out.mode == "RGB" and abs(out.width - 724) <= 2 and abs(out.height - 724) <= 2
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert result.images[0].recipe["fill"] == "white"
    assert result.message.startswith("Rotated 45° clockwise")


def test_rotate_45_rgba_has_transparent_corners_and_black_fill_on_request(settings, astronaut, astronaut_rgba):
    out = edited(settings, astronaut_rgba, "rotate 45")
    assert out.mode == "RGBA" and out.getpixel((0, 0))[3] == 0
    black = edited(settings, astronaut, "rotate 30 with a black background")
    assert black.getpixel((0, 0)) == (0, 0, 0)


def test_rotate_transparent_corners_on_request_and_pixel_limit(settings, astronaut):
    result = run_edit(settings, astronaut, "rotate 20 with a transparent background")
    assert result.images[0].image.mode == "RGBA" and result.images[0].image.getpixel((0, 0))[3] == 0
    with pytest.raises(InvalidInput, match="megapixels"):
        run_edit(settings.replace(max_output_pixels=300_000), astronaut, "rotate 45")


def test_rotate_keep_size(settings, astronaut):
    assert edited(settings, astronaut, "rotate 30 degrees and keep the size").size == (512, 512)


def test_rotate_after_exif_orientation_6(settings, astronaut):
    photo = astronaut.resize((300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise: 200 wide, 300 tall
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif)
    loaded = load_image(buffer.getvalue(), max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    assert loaded.image.size == (200, 300)
    assert edited(settings, loaded.image, "rotate 90 clockwise").size == (300, 200)
    assert edited(settings, loaded.image, "rotate it upside down").size == (200, 300)


def test_flip_matches_numpy(settings, wide):
    arr = np.asarray(wide)
    assert np.array_equal(np.asarray(edited(settings, wide, "flip it")), np.fliplr(arr))
    assert np.array_equal(np.asarray(edited(settings, wide, "flip vertically")), np.flipud(arr))


@pytest.mark.parametrize("text, size", [
    ("crop it to a square", (300, 300)),
    ("crop to 16:9", (512, 288)),
    ("crop to portrait", (225, 300)),
    ("crop to 100,50,400,300", (300, 250)),
    ("crop x=10 y=20 w=100 h=50", (100, 50)),
    ("crop 10% from each side", (410, 240)),
    ("crop the left half", (256, 300)),
    ("crop to 200x100", (200, 100)),
])
def test_crop_geometry(settings, wide, text, size):
    assert edited(settings, wide, text).size == size


def test_crop_pixels_are_the_centre(settings, wide):
    result = run_edit(settings, wide, "crop it square")
    assert result.images[0].recipe["pixel_box"] == [106, 0, 406, 300]
    assert np.array_equal(np.asarray(result.images[0].image), np.asarray(wide)[:, 106:406])


def test_crop_box_clamped_and_outside_box_refused(settings, wide):
    assert edited(settings, wide, "crop to 400,200,900,900").size == (112, 100)
    with pytest.raises(InvalidInput, match="outside"):
        run_edit(settings, wide, "crop to 600,400,700,500")


@pytest.mark.parametrize("text, size", [
    ("resize to 256 wide", (256, 150)),
    ("make it 600 pixels tall", (1024, 600)),
    ("resize to 800x600", (800, 600)),
    ("resize by 50%", (256, 150)),
    ("make it twice as big", (1024, 600)),
    ("resize to 1024 pixels", (1024, 600)),
])
def test_resize_geometry(settings, wide, text, size):
    assert edited(settings, wide, text).size == size


def test_resize_above_output_limit_is_refused(settings, astronaut):
    small_limit = settings.replace(max_output_pixels=1_000_000)
    with pytest.raises(InvalidInput, match="megapixels"):
        run_edit(small_limit, astronaut, "make it 3 times bigger")
    assert edited(small_limit, astronaut, "resize to 1000x1000").size == (1000, 1000)


def test_brightness_raises_and_lowers_the_mean(settings, astronaut):
    mean = np.asarray(astronaut, dtype=np.float64).mean()
    brighter = np.asarray(edited(settings, astronaut, "make it brighter"), dtype=np.float64).mean()
    darker = np.asarray(edited(settings, astronaut, "less bright"), dtype=np.float64).mean()
    assert brighter > mean + 10 and darker < mean - 10


def test_contrast_raises_the_spread(settings, astronaut):
    std = np.asarray(astronaut.convert("L"), dtype=np.float64).std()
    assert np.asarray(edited(settings, astronaut, "increase contrast by 50%").convert("L"), dtype=np.float64).std() > std * 1.2
    assert np.asarray(edited(settings, astronaut, "less contrast").convert("L"), dtype=np.float64).std() < std * 0.9


def test_saturation_changes_channel_spread(settings, astronaut):
    def chroma(img):
        arr = np.asarray(img, dtype=np.float64)
        return (arr.max(axis=2) - arr.min(axis=2)).mean()
    assert chroma(edited(settings, astronaut, "more vivid")) > chroma(astronaut) * 1.15
    assert chroma(edited(settings, astronaut, "desaturate")) < chroma(astronaut) * 0.7


def test_grayscale_has_equal_channels(settings, astronaut):
    arr = np.asarray(edited(settings, astronaut, "make it black and white"))
    assert arr.shape == (512, 512, 3)
    assert np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])
    assert arr[..., 0].std() > 20  # still a picture, not a flat grey


def test_sepia_is_a_warm_monochrome(settings, astronaut):
    """Every pixel brown-toned (red >= green >= blue) and the hue the same everywhere: the picture's own colours
    are gone (the astronaut's orange suit and the blue sky give the same hue), its light and shade are not."""
    arr = np.asarray(edited(settings, astronaut, "make it sepia")).astype(int)
    red, green, blue = arr[..., 0], arr[..., 1], arr[..., 2]
    mid_tones = (red > 40) & (red < 255)  # neither clipped nor so dark that rounding decides the ratio
    assert (red >= green).all() and (green >= blue).all()
    ratios = blue[mid_tones] / red[mid_tones]
    assert ratios.std() < 0.01 and 0.65 < ratios.mean() < 0.72
    assert green.std() > 20  # still a picture


def test_blur_and_sharpen_change_the_detail(settings, astronaut):
    base = laplacian_variance(astronaut)
    slight, heavy = (laplacian_variance(edited(settings, astronaut, t)) for t in ("blur it slightly", "blur it a lot"))
    assert heavy < slight < base * 0.5
    light, strong = (laplacian_variance(edited(settings, astronaut, t)) for t in ("sharpen a bit", "sharpen it a lot"))
    assert base * 1.2 < light < strong


COLOUR_EDITS = ["make it brighter", "less bright", "increase contrast by 50%", "desaturate", "more vivid",
                "black and white", "sepia", "blur it", "sharpen it"]


@pytest.mark.parametrize("text", COLOUR_EDITS)
def test_colour_edits_keep_size_and_mode(settings, astronaut, text):
    out = edited(settings, astronaut, text)
    assert out.size == astronaut.size and out.mode == "RGB"
    assert not np.array_equal(np.asarray(out), np.asarray(astronaut))


@pytest.mark.parametrize("text", [t for t in COLOUR_EDITS if not t.startswith("blur")])
def test_rgba_input_keeps_its_alpha(settings, astronaut_rgba, text):
    out = edited(settings, astronaut_rgba, text)
    assert out.mode == "RGBA" and out.size == astronaut_rgba.size
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(astronaut_rgba.getchannel("A")))


@pytest.mark.parametrize("text", ["rotate 90", "flip it", "crop to 16:9", "resize by 50%", "blur it"])
def test_rgba_geometry_keeps_mode(settings, astronaut_rgba, text):
    assert edited(settings, astronaut_rgba, text).mode == "RGBA"


def test_rgba_rotate_carries_alpha_along(settings, astronaut_rgba):
    out = edited(settings, astronaut_rgba, "rotate 90 clockwise")
    assert np.array_equal(np.asarray(out.getchannel("A")), np.rot90(np.asarray(astronaut_rgba.getchannel("A")), k=-1))


def test_compound_edit_applies_in_order(settings, wide):
    result = run_edit(settings, wide, "rotate 90 and make it black and white")
    out, recipe = result.images[0].image, result.images[0].recipe
    arr = np.asarray(out)
    assert out.size == (300, 512) and np.array_equal(arr[..., 0], arr[..., 2])
    assert [step["operation"] for step in recipe["operations"]] == ["rotate", "grayscale"]
    assert result.message == "Rotated 90° clockwise. Converted to black and white."


def test_result_recipe_parents_message_and_suggestions(settings, astronaut):
    result = run_edit(settings, astronaut, "brightness +30%", image_id="abc123")
    image = result.images[0]
    assert image.recipe["capability"] == "image_edit" and image.recipe["operation"] == "brightness"
    assert image.recipe["factor"] == 1.3 and image.recipe["backend"] == "pillow"
    assert image.parent_ids == ["abc123"]
    assert result.message == "Brightness +30%."
    assert result.suggestions and all(isinstance(s, str) for s in result.suggestions)
    assert run_edit(settings, astronaut, "less bright").message == "Brightness -23%."
    assert run_edit(settings, astronaut, "blur it", image_id=None).images[0].parent_ids == []


def test_parsed_params_are_used_without_the_text(settings, wide):
    out = edited(settings, wide, "", params={"operation": "flip", "axis": "vertical"})
    assert np.array_equal(np.asarray(out), np.flipud(np.asarray(wide)))
    out = edited(settings, wide, "please do it", params=parse_edit("crop to 16:9 and rotate it left"))
    assert out.size == (288, 512)


def test_unparseable_request_raises_missing_input_with_suggestions(settings, astronaut):
    with pytest.raises(MissingInput) as info:
        run_edit(settings, astronaut, "edit it")
    assert "rotate" in info.value.message and info.value.suggestions
    with pytest.raises(MissingInput, match="crop"):
        run_edit(settings, astronaut, "crop it")


def test_blurring_only_part_of_the_image_is_refused_plainly(settings, astronaut):
    assert parse_edit("blur the background") == {"operation": "blur", "region": "background"}
    with pytest.raises(CapabilityUnavailable, match="whole image"):
        run_edit(settings, astronaut, "blur the background")


def test_bad_arguments_raise_invalid_input(settings, astronaut):
    with pytest.raises(InvalidInput):
        run_edit(settings, astronaut, "", params={"operation": "brightness", "factor": 50})
    with pytest.raises(InvalidInput):
        run_edit(settings, astronaut, "", params={"operation": "rotate", "angle": "lots"})


def test_capability_spec_and_registry_run(settings, astronaut):
    from models.registry import Registry

    cap = capability(settings)
    assert (cap.name, cap.min_images, cap.max_images) == ("image_edit", 1, 1)
    assert cap.parse_params("flip it") == {"operation": "flip", "axis": "horizontal"}
    assert cap.describe()["available"] and cap.backends[0].describe()["licence"] == "MIT-CMU (Pillow)"
    registry = Registry(ModelCache(1 << 30))
    registry.add(cap)
    request = CapabilityRequest(capability="image_edit", text="rotate it 90 degrees",
                                images=[InputImage(image=astronaut.crop((0, 0, 100, 50)))])
    result = registry.run(request)
    assert result.backend == "pillow" and result.images[0].image.size == (50, 100)


def test_importing_the_capability_stays_light():
    code = ("import sys, models.image_edit; heavy = {'torch', 'numpy', 'cv2', 'gradio', 'pipeline', 'ui'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert out.stdout.strip() == "[]"
