"""Text-found objects with no download: "erase the cup" on the shipped coffee photo, "the person on the left"
between two real portraits, and the brush when the finder sees nothing (models/object_removal/finders.py)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.cache import ModelCache
from models.contracts import CapabilityRequest, InputImage
from models.object_removal import capability
from models.object_removal.params import parse_removal_params
from models.registry import Registry

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "images"


@pytest.fixture()
def registry(settings):
    registry = Registry(ModelCache(2**30))
    registered = capability(settings.replace(object_removal_grounding_model=""))  # no CLIPSeg weights
    for backend in registered.backends:
        backend.attach_registry(registry)
    registry.add(registered)
    return registry


def _erase(registry, image, text, backend="opencv"):  # Telea: the fastest fill, the mask is what is tested
    chosen = next(b for b in registry.get("object_removal").backends if b.name == backend)
    request = CapabilityRequest("object_removal", text, params=parse_removal_params(text),
                                images=[InputImage(image, "parent", role="attachment")])
    return registry.run(request, backend=chosen)


def _ellipse(shape, cx, cy, rx, ry):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


def test_erase_the_cup_on_the_coffee_photo_offline(registry):
    photo = Image.open(EXAMPLES / "coffee.jpg").convert("RGB")
    result = _erase(registry, photo, "Erase the cup")
    assert result.type == "image", result.message
    before, after = np.asarray(photo, np.float32), np.asarray(result.images[0].image, np.float32)
    cup = _ellipse(before.shape, 290, 110, 95, 65)  # the cup's white rim and the coffee inside it
    changed = np.abs(after - before).sum(axis=2)
    assert changed[cup].mean() > 60  # the white cup and the crema are gone…
    assert np.median(after[cup], axis=0)[2] < 0.8 * np.median(before[cup], axis=0)[2]  # …wood, not white, is there
    assert changed[:40, 520:].max() == 0 and changed[360:, :60].max() == 0  # far corners untouched
    recipe = result.images[0].recipe
    assert recipe["mask_source"] == "text" and recipe["finder"] == "main_object"
    assert "main object" in result.message and "cup" in result.message
    assert [a.id for a in result.actions] == ["paint_instead"]
    assert parse_removal_params(result.actions[0].message) == {}  # no target: the reply opens the brush


def test_the_person_on_the_left_between_two_portraits(registry):
    import matplotlib
    from skimage import data

    left = Image.fromarray(data.astronaut()).resize((320, 320))
    right = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB").resize((320, 375)).crop((0, 27, 320, 347))
    pair = Image.new("RGB", (640, 320))
    pair.paste(left, (0, 0))
    pair.paste(right, (320, 0))
    for position, side in (("left", slice(0, 320)), ("right", slice(320, 640))):
        result = _erase(registry, pair, f"remove the person on the {position}")
        assert result.type == "image", result.message
        changed = np.abs(np.asarray(result.images[0].image, np.float32) - np.asarray(pair, np.float32)).sum(axis=2) > 0
        other = slice(320, 640) if position == "left" else slice(0, 320)
        assert changed[:, side].mean() > 0.25 and changed[:, other].mean() < 0.05 * changed[:, side].mean()
        recipe = result.images[0].recipe
        assert recipe["finder"] == "person" and recipe["position"] == position
        assert "one of 2" in result.message


def test_nothing_plausible_opens_the_brush(registry):
    flat = Image.fromarray(np.full((200, 300, 3), 128, np.uint8))
    result = _erase(registry, flat, "erase the car")
    assert result.type == "clarification" and result.metadata["open_brush"] is True
    assert result.metadata["reason"] == "target_not_found" and "car" in result.message
    # In a portrait the main object is the person: "the flag" must not erase her, the brush opens instead.
    portrait = Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")
    flag = _erase(registry, portrait, "erase the flag on the left")
    assert flag.type == "clarification" and flag.metadata["open_brush"] is True and not flag.images
