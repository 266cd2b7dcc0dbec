"""The object_removal capability: target/position parsing, mask handling, the embedded inpainters on a real
photo (only masked pixels change, the fill is plausible, no drift), clarifications that open the brush,
CLIPSeg grounding through transformers with a tiny random model built here, and LaMa through spandrel."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import InvalidInput, MissingInput
from models.cache import ModelCache
from models.contracts import DOWNLOADABLE, MISSING, READY, CapabilityRequest, InputImage
from models.object_removal import capability
from models.object_removal import masks
from models.object_removal.params import parse_removal_params
from models.registry import Registry

BLUE = np.array([20, 40, 230])


def _registry(settings):
    registry = Registry(ModelCache(2**30))
    registered = capability(settings)
    for backend in registered.backends:  # as build_registry does: the grounder shares the model cache
        backend.attach_registry(registry)
    registry.add(registered)
    return registry


def _backend(registry, name):
    return next(b for b in registry.get("object_removal").backends if b.name == name)


def _request(image, text="erase it", mask=None, image_id="parent-sha"):
    return CapabilityRequest("object_removal", text, params=parse_removal_params(text),
                             images=[InputImage(image, image_id, role="attachment")], mask=mask)


@pytest.fixture(scope="module")
def cat_with_object():
    """chelsea() with a saturated blue disk pasted on the fur, the disk's painted mask, and the clean photo."""
    from skimage import data

    clean = data.chelsea()
    mask = Image.new("L", (clean.shape[1], clean.shape[0]), 0)
    ImageDraw.Draw(mask).ellipse((250, 170, 310, 230), fill=255)
    disk = np.asarray(mask) > 0
    spoiled = clean.copy()
    spoiled[disk] = BLUE
    return Image.fromarray(spoiled), mask, clean


# ---- text -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("erase the person on the left", {"target": "person", "position": "left"}),
    ("remove the car from the photo", {"target": "car"}),
    ("get rid of the watermark", {"target": "watermark"}),
    ("remove the text in the bottom corner", {"target": "text", "position": "bottom"}),
    ("clean up the scratches on this old photo", {"target": "scratches"}),
    ("delete the trash can from the image", {"target": "trash can"}),
    ("remove the leftmost car please", {"target": "car", "position": "left"}),
    ("erase the signature at the top right corner of the image", {"target": "signature", "position": "top right"}),
    ("remove the man in the middle of the picture", {"target": "man", "position": "middle"}),
    ("remove the top hat", {"target": "top hat"}),
    ("erase what I painted", {}),
    ("remove it", {}),
])
def test_parse_params(text, expected):
    assert parse_removal_params(text) == expected


# ---- masks --------------------------------------------------------------------------------------------------
def test_components_follow_the_named_position():
    heat = np.zeros((100, 200), np.float32)
    heat[40:60, 10:40] = 0.9  # left blob
    heat[10:30, 150:190] = 0.7  # top-right blob
    heat[80:82, 100:101] = 0.9  # a speck below the size floor
    both = masks.select_components(heat, 0.5)
    assert both[50, 20] and both[20, 170] and not both[81, 100]
    left = masks.select_components(heat, 0.5, "left")
    assert left[50, 20] and not left[20, 170]
    assert masks.select_components(heat, 0.5, "top right")[20, 170]
    assert not masks.select_components(heat, 0.5, "top right")[50, 20]
    assert not masks.select_components(heat, 0.95).any()


def test_painted_mask_from_a_brush_layer_is_resized():
    layer = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rectangle((10, 10, 19, 19), fill=(255, 0, 0, 255))
    mask = masks.painted_mask(layer, (100, 80))
    assert mask.shape == (80, 100) and mask[30, 30] and not mask[5, 5]
    assert masks.dilate(mask, 3).sum() > mask.sum()


# ---- embedded inpainters on a real photo --------------------------------------------------------------------
@pytest.mark.parametrize("backend_name", ["patchmatch", "opencv"])
def test_embedded_fill_changes_only_the_mask_and_hides_the_object(settings, cat_with_object, backend_name):
    spoiled, mask, clean = cat_with_object
    registry = _registry(settings)
    result = registry.run(_request(spoiled, "erase what I painted", mask), backend=_backend(registry, backend_name))
    out = np.asarray(result.images[0].image).astype(int)
    before = np.asarray(spoiled).astype(int)
    hole = masks.dilate(np.asarray(mask) > 0, settings.object_removal_dilate_px)
    assert (out[~hole] == before[~hole]).all()  # bit-identical outside the dilated mask
    disk = np.asarray(mask) > 0
    fill_mean = out[disk].mean(axis=0)
    assert np.linalg.norm(fill_mean - BLUE) > 150  # the blue object is gone…
    assert np.linalg.norm(fill_mean - clean[disk].mean(axis=0)) < 45  # …replaced by fur-like colour
    recipe = result.images[0].recipe
    assert recipe["mask_source"] == "painted" and recipe["backend"] == backend_name
    assert recipe["mask_pixels"] == int(hole.sum()) and result.images[0].parent_ids == ["parent-sha"]
    assert result.backend == backend_name and result.metadata["mask_source"] == "painted"


def test_patchmatch_fills_from_around_the_hole_not_from_distant_objects(settings, astronaut):
    """Erasing the shuttle beside the astronaut: without a source band PatchMatch pasted her face and hair in
    (23 % warm skin/hair-coloured pixels in the hole); the wall around the shuttle is grey."""
    mask = Image.new("L", astronaut.size, 0)
    ImageDraw.Draw(mask).ellipse((317, 41, 471, 259), fill=255)
    registry = _registry(settings)
    result = registry.run(_request(astronaut, "erase it", mask), backend=_backend(registry, "patchmatch"))
    out = np.asarray(result.images[0].image).astype(int)
    hole = masks.dilate(np.asarray(mask) > 0, settings.object_removal_dilate_px)
    warm = (out[..., 0] - out[..., 2] > 50)[hole].mean()
    assert warm < 0.05


def test_repeated_edits_do_not_drift(settings, cat_with_object):
    spoiled, mask, _ = cat_with_object
    registry = _registry(settings)
    opencv = _backend(registry, "opencv")
    first = registry.run(_request(spoiled, "erase it", mask), backend=opencv).images[0].image
    second_mask = Image.new("L", spoiled.size, 0)
    ImageDraw.Draw(second_mask).rectangle((20, 20, 60, 60), fill=255)
    second = registry.run(_request(first, "erase it", second_mask), backend=opencv).images[0].image
    touched = (masks.dilate(np.asarray(mask) > 0, settings.object_removal_dilate_px)
               | masks.dilate(np.asarray(second_mask) > 0, settings.object_removal_dilate_px))
    assert (np.asarray(second)[~touched] == np.asarray(spoiled)[~touched]).all()


def test_big_crops_are_filled_smaller_and_pasted_only_inside(settings, cat_with_object):
    spoiled, mask, _ = cat_with_object
    registry = _registry(settings.replace(object_removal_max_side=64))
    result = registry.run(_request(spoiled, "erase it", mask), backend=_backend(registry, "opencv"))
    recipe = result.images[0].recipe
    assert recipe["work_scale"] < 1
    hole = masks.dilate(np.asarray(mask) > 0, settings.object_removal_dilate_px)
    assert (np.asarray(result.images[0].image)[~hole] == np.asarray(spoiled)[~hole]).all()


def test_rgba_keeps_its_alpha(settings, cat_with_object):
    spoiled, mask, _ = cat_with_object
    rgba = spoiled.convert("RGBA")
    rgba.putalpha(200)
    out = _registry(settings).run(_request(rgba, "erase it", mask)).images[0].image
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (200, 200)


# ---- clarifications and refusals -------------------------------------------------------------------------------
def test_without_mask_or_a_finder_that_sees_it_it_asks_for_the_brush(settings, cat_with_object):
    spoiled, _, _ = cat_with_object
    registry = _registry(settings.replace(object_removal_grounding_model=""))
    named = registry.run(_request(spoiled, "remove the person on the left"))  # a cat photo: no face anywhere
    assert named.type == "clarification" and named.metadata["open_brush"] is True
    assert named.metadata["reason"] == "target_not_found" and "person" in named.message and not named.images
    backend = _backend(registry, "opencv")
    backend.finder = None  # neither CLIPSeg weights nor the embedded finder
    blind = registry.run(_request(spoiled, "remove the cat on the left"), backend=backend)
    assert blind.metadata["reason"] == "no_grounding_model" and "cat" in blind.message and not blind.images
    unnamed = registry.run(_request(spoiled, "erase it"))
    assert unnamed.type == "clarification" and unnamed.metadata["open_brush"] is True


def test_empty_or_total_masks(settings, cat_with_object):
    spoiled, _, _ = cat_with_object
    registry = _registry(settings)
    empty = registry.run(_request(spoiled, "erase it", Image.new("L", spoiled.size, 0)))
    assert empty.type == "clarification" and empty.metadata == {**empty.metadata, "open_brush": True,
                                                                "reason": "empty_mask"}
    with pytest.raises(MissingInput):
        registry.run(CapabilityRequest("object_removal", "erase it", mask=Image.new("L", (8, 8), 255)))
    with pytest.raises(InvalidInput, match="covers"):
        registry.run(_request(spoiled, "erase it", Image.new("L", spoiled.size, 255)))


def test_statuses_and_listing(settings, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    lama, patchmatch, opencv = capability(settings).backends
    assert lama.status().state == DOWNLOADABLE and "models.download object_removal" in lama.status().fix
    assert patchmatch.status().state == READY and opencv.status().state == READY
    missing = capability(settings.replace(object_removal_model=str(tmp_path / "big-lama.ckpt"))).backends[0]
    assert missing.status().state == MISSING and "big-lama.ckpt" in missing.status().reason
    listing = opencv.describe()
    assert listing["embedded"] and listing["mask_from_text"]["status"] == DOWNLOADABLE
    assert "Apache-2.0" in listing["mask_from_text"]["licence"] and "Apache-2.0" in lama.licence
    # with no weights and downloads off, the registry serves the embedded PatchMatch
    assert _registry(settings).ready_backend("object_removal").name == "patchmatch"


# ---- CLIPSeg grounding with a tiny random model -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_clipseg(tmp_path_factory):
    import torch
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, ViTImageProcessor

    from tests.tiny_models import build_clip_tokenizer

    folder = tmp_path_factory.mktemp("clipseg")
    tokenizer = build_clip_tokenizer(folder)
    torch.manual_seed(0)
    config = CLIPSegConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=16, reduce_dim=16, extract_layers=[0, 1], decoder_num_attention_heads=2,
        decoder_intermediate_size=32)
    CLIPSegForImageSegmentation(config).save_pretrained(folder)
    image_processor = ViTImageProcessor(size={"height": 64, "width": 64}, image_mean=[0.485, 0.456, 0.406],
                                        image_std=[0.229, 0.224, 0.225])
    CLIPSegProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_named_target_is_found_with_clipseg_and_only_its_pixels_change(settings, cat_with_object, tiny_clipseg):
    spoiled, _, _ = cat_with_object
    settings = settings.replace(object_removal_grounding_model=str(tiny_clipseg))
    registry = _registry(settings)
    opencv = _backend(registry, "opencv")
    grounder = opencv.grounder
    assert grounder.status().state == READY
    heat = grounder.heatmap(spoiled, "red fox", "cpu")
    assert heat.shape == (spoiled.height, spoiled.width) and 0 <= heat.min() and heat.max() <= 1
    threshold = float(np.quantile(heat, 0.85))  # a random model: take its most confident 15 %
    registry = _registry(settings.replace(object_removal_grounding_threshold=threshold))
    opencv = _backend(registry, "opencv")
    radius = settings.object_removal_dilate_px + round(0.01 * max(spoiled.size))
    for text, position in (("erase the red fox", None), ("erase the red fox on the left", "left")):
        result = registry.run(_request(spoiled, text), backend=opencv)
        assert result.type == "image", result.message
        expected = masks.dilate(masks.select_components(heat, threshold, position), radius)
        changed = (np.asarray(result.images[0].image) != np.asarray(spoiled)).any(axis=2)
        assert expected.any() and not (changed & ~expected).any()
        recipe = result.images[0].recipe
        assert recipe["mask_source"] == "text" and recipe["mask_pixels"] == int(expected.sum())
        assert recipe["position"] == position and recipe["grounding_model"] == tiny_clipseg.name
        assert "CLIPSeg" in result.message
    assert any("clipseg" in key for key in registry.cache.keys())  # loaded once into the shared cache
    nothing = _registry(settings.replace(object_removal_grounding_threshold=1.01)).run(_request(spoiled, "erase the red fox"))
    assert nothing.type == "clarification" and nothing.metadata["reason"] == "target_not_found"


# ---- LaMa through spandrel with the real architecture, random weights ---------------------------------------------
@pytest.mark.slow
def test_lama_backend_loads_a_checkpoint_through_spandrel(settings, cat_with_object, tmp_path):
    import torch
    from safetensors.torch import save_file
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # spandrel also where torchvision is absent (requirements-cpu.txt)
    from spandrel.architectures.LaMa import LaMa

    torch.manual_seed(0)
    generator = LaMa(in_nc=4, out_nc=3).model  # the FFCResNetGenerator, as big-lama.ckpt stores it
    path = tmp_path / "big-lama.safetensors"
    save_file({f"generator.{k}": v.contiguous() for k, v in generator.state_dict().items()}, str(path))
    del generator
    spoiled, mask, _ = cat_with_object
    small, small_mask = spoiled.crop((200, 120, 360, 280)), mask.crop((200, 120, 360, 280))
    registry = _registry(settings.replace(object_removal_model=str(path)))
    assert registry.ready_backend("object_removal").name == "lama"
    result = registry.run(_request(small, "erase it", small_mask))
    assert result.backend == "lama" and result.images[0].recipe["model"] == "big-lama.safetensors"
    out, before = np.asarray(result.images[0].image), np.asarray(small)
    hole = masks.dilate(np.asarray(small_mask) > 0, settings.object_removal_dilate_px)
    assert (out[~hole] == before[~hole]).all() and (out[hole] != before[hole]).any()


@pytest.mark.slow
def test_the_default_lama_checkpoint_layout_loads_without_running_its_pickled_classes(tmp_path):
    """big-lama.ckpt as the LaMa authors (and lllyasviel/Annotators) ship it: a Lightning checkpoint whose
    `state_dict` holds `generator.model.*` beside discriminator and loss weights, and whose pickle names classes
    (callbacks, configs) that are not installed here. Built with random weights in exactly that layout."""
    import sys
    import types

    import torch
    from models.spandrel_compat import import_spandrel

    import_spandrel()  # spandrel also where torchvision is absent (requirements-cpu.txt)
    from spandrel import MaskedImageModelDescriptor, ModelLoader
    from spandrel.architectures.LaMa import LaMa

    from models.object_removal.lama_backend import load_lama

    fake = types.ModuleType("fake_lightning_callbacks")

    class ModelCheckpoint:  # a stand-in for pytorch_lightning's, unimportable when the file is read
        def __init__(self):
            self.best_model_path = "/train/best.ckpt"

    class DictConfig:
        def __init__(self):
            self.content = {"generator": {"kind": "ffc_resnet"}}

    for cls in (ModelCheckpoint, DictConfig):
        cls.__module__ = fake.__name__
        cls.__qualname__ = cls.__name__
        setattr(fake, cls.__name__, cls)
    sys.modules[fake.__name__] = fake
    torch.manual_seed(0)
    generator = LaMa(in_nc=4, out_nc=3).model
    state = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    state["discriminator.model0.0.weight"] = torch.zeros(64, 3, 4, 4)
    state["loss_resnet_pl.impl.conv1.weight"] = torch.zeros(8, 3, 3, 3)
    path = tmp_path / "lama.ckpt"
    try:
        torch.save({"epoch": 39, "global_step": 1000, "pytorch-lightning_version": "1.2.9", "state_dict": state,
                    "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(1.0)}},
                    "hyper_parameters": {"config": DictConfig()}}, path)
    finally:
        del sys.modules[fake.__name__]
    del generator, state
    with pytest.raises(Exception, match="forbidden"):  # why the default needs our reader: spandrel's own refuses
        ModelLoader().load_from_file(str(path))
    descriptor = load_lama(path, "cpu")
    assert isinstance(descriptor, MaskedImageModelDescriptor) and descriptor.architecture.id == "LaMa"
    with torch.inference_mode():
        out = descriptor(torch.rand(1, 3, 64, 64), (torch.rand(1, 1, 64, 64) > 0.5).float())
    assert out.shape == (1, 3, 64, 64) and torch.isfinite(out).all()


def test_the_default_lama_source_is_the_authors_checkpoint_in_a_preloadable_repo(settings):
    from models.object_removal import capability

    lama = capability(settings).backends[0]
    assert settings.object_removal_model == "lllyasviel/Annotators/lama.ckpt"
    files = {(spec.repo_id, f) for spec in lama.weight_files("cuda") for f in spec.files}
    assert ("lllyasviel/Annotators", "lama.ckpt") in files
    assert ("CIDAS/clipseg-rd64-refined", "pytorch_model.bin") in files  # the text grounding model too
    assert "Apache-2.0" in lama.licence and "advimman/lama" in lama.licence
