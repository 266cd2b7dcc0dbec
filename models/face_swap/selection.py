"""Which image gives the face, which image receives it, and which of its faces are replaced (pure Python).

`choose_images` applies the rule "first image = source face, second = target" unless the parsed text says
otherwise (`source_image` / `target_image` = first | second | latest), and names each image the way the
reply should ("the first image", "the latest image"). `select_faces` turns `face_target`, `face_index` and
`face_gender` into the indices of the target faces to replace: the largest face by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput, MissingInput


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, right, bottom in image pixels
    points: Any  # landmarks as an (N, 2) float array: 68 dlib points or InsightFace's 5 key points
    gender: str | None = None  # "male" | "female" when the backend can tell
    native: Any = field(default=None, repr=False)  # the backend's own face object

    @property
    def area(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])

    @property
    def center_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass
class ImageChoice:
    source: Any  # InputImage
    target: Any  # InputImage
    source_label: str  # "the first image"
    target_label: str


def choose_images(images: list, params: dict) -> ImageChoice:
    if len(images) < 2:
        raise MissingInput(
            "A face swap needs two images: the face to use and the picture to put it on.",
            suggestions=["Attach both images (the face first, then the target picture).",
                         "Or attach the face and say 'put this face on the last image'."])
    labels = _labels(images)
    slots = {"first": 0, "second": 1, "latest": _latest_index(images)}
    source_name, target_name = params.get("source_image"), params.get("target_image")
    source = slots.get(source_name) if source_name else None
    target = slots.get(target_name) if target_name else None
    if source is None and target is None:
        source, target = 0, 1
    elif source is None:
        source = 1 if target == 0 else 0
    elif target is None:
        target = 1 if source == 0 else 0
    if source == target:
        raise InvalidInput(f"You asked me to take the face from {labels[source]} and put it on the same image.",
                           suggestions=["Say which image has the face to use, e.g. 'the face from the first image'."])
    return ImageChoice(images[source], images[target], labels[source], labels[target])


def _latest_index(images: list) -> int:
    for i, item in enumerate(images):
        if getattr(item, "role", "") == "latest":
            return i
    return len(images) - 1


def _labels(images: list) -> list[str]:
    labels = []
    for i, item in enumerate(images):
        if getattr(item, "role", "") == "latest":
            labels.append("the latest image of this chat")
        else:
            labels.append(("the first image", "the second image", "the third image")[min(i, 2)]
                          if len(images) > 1 else "the image")
    return labels


def select_faces(faces: list[DetectedFace], params: dict, *, can_tell_gender: bool) -> tuple[list[int], str]:
    """Indices of the target faces to replace, and a short description of the choice for the reply."""
    if not faces:
        return [], ""
    candidates = list(range(len(faces)))
    gender = params.get("face_gender")
    described_gender = ""
    if gender in ("male", "female") and can_tell_gender:
        matching = [i for i in candidates if faces[i].gender == gender]
        if matching:
            candidates = matching
            described_gender = " man" if gender == "male" else " woman"
    target = params.get("face_target") or ("left" if params.get("face_index") else "largest")
    noun = (described_gender.strip() or "face")
    if target == "all":
        return candidates, f"all {len(candidates)} {'faces' if len(candidates) != 1 else 'face'}"
    by_x = sorted(candidates, key=lambda i: faces[i].center_x)
    index = params.get("face_index")
    if index:
        index = int(index)
        order = by_x[::-1] if target == "right" else by_x
        side = "right" if target == "right" else "left"
        if not 1 <= index <= len(order):
            raise InvalidInput(f"You asked for face number {index} from the {side}, but I found only {len(order)}.",
                               suggestions=["Say 'all faces', 'the one on the left' or 'the largest face'."])
        return [order[index - 1]], f"the {_ordinal(index)} {noun} from the {side}"
    if target == "left":
        return [by_x[0]], f"the {noun} on the left"
    if target == "right":
        return [by_x[-1]], f"the {noun} on the right"
    if target == "middle":
        return [by_x[(len(by_x) - 1) // 2]], f"the {noun} in the middle"
    if target == "smallest":
        return [min(candidates, key=lambda i: faces[i].area)], f"the smallest {noun}"
    return [max(candidates, key=lambda i: faces[i].area)], f"the largest {noun}" if len(faces) > 1 else f"the {noun}"


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")
