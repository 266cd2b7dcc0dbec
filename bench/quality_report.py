"""Quality report of the embedded capabilities: their results on the shipped photos, at a glance.

Runs every embedded backend (no download, one thread) through the registry exactly as the app does, on
real photos that ship inside installed packages (bench/quality_photos.py), and writes into a folder (default
bench/out/quality/): one PNG per case, `contact_sheet.png` (one row per case: input, mask, result, with
captions: IoU against the hand outline, timings, backend) and `index.html` showing the same with the
messages the gateway replied. Cases: background removal on every outlined photo, object removal by text
("erase the cup", "the person on the left") and by a painted mask, style transfer, SPAN ×4 next to
Lanczos, and face swap both ways, next to the previous Poisson-cloned blend ("before").

Run: `python bench/quality_report.py [--out DIR]`, then open DIR/index.html (or look at contact_sheet.png).
"""

from __future__ import annotations

import argparse
import html
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, setup

TILE = 256


@dataclass
class Case:
    name: str
    caption: str
    tiles: list = field(default_factory=list)  # (label, PIL image)
    message: str = ""


def registry():
    from core.settings import Settings
    from models.cache import ModelCache
    from models.registry import build_registry

    settings = Settings.from_env().replace(object_removal_grounding_model="")  # the embedded finder, offline
    return build_registry(settings, ModelCache(8 * 2**30), device="cpu")


def run(reg, capability, text, images, params=None, mask=None, backend=None):
    from models.contracts import CapabilityRequest, InputImage

    if params is None:
        parse = reg.get(capability).parse_params
        params = parse(text) if parse else {}
    request = CapabilityRequest(capability, text, params=params, images=[InputImage(i) for i in images], mask=mask,
                                context={"consent": True})
    chosen = next((b for b in reg.get(capability).backends if b.name == backend), None) if backend else None
    started = time.perf_counter()
    result = reg.run(request, backend=chosen)
    return result, time.perf_counter() - started


def background_cases(reg) -> list[Case]:
    import numpy as np

    from quality_photos import OUTLINES, boundary_f, outline_mask, photo

    cases = []
    for name, (kind, polygons) in OUTLINES.items():
        image = photo(name, 512)
        scale = 512 / max(photo(name).size)
        result, seconds = run(reg, "background_removal", "remove the background and give me the mask too", [image])
        cutout, mask = result.images[0].image, result.images[1].image
        truth = outline_mask(image.size, polygons, scale)
        predicted = np.asarray(mask) > 127
        iou = (predicted & truth).sum() / (predicted | truth).sum()
        cases.append(Case(f"background_{name}", f"background removal, {name} ({kind}): IoU {iou:.3f}, boundary F "
                          f"{boundary_f(predicted, truth):.2f}, {seconds:.2f} s, {result.backend}",
                          [("input", image), ("mask", mask), ("result", on_checkerboard(cutout))], result.message))
    return cases


def object_removal_cases(reg) -> list[Case]:
    import numpy as np
    from PIL import Image

    from quality_photos import photo

    coffee = Image.open(ROOT / "examples" / "images" / "coffee.jpg").convert("RGB")
    pair = Image.new("RGB", (640, 320))
    pair.paste(photo("astronaut", 320), (0, 0))
    pair.paste(photo("grace_hopper", 375).crop((0, 27, 320, 347)), (320, 0))
    painted = np.zeros((300, 451), np.uint8)
    painted[40:120, 300:380] = 255  # a patch of the cat's background wall and fur edge
    cases = []
    for label, text, image, mask in (("cup", "Erase the cup", coffee, None),
                                     ("person_left", "remove the person on the left", pair, None),
                                     ("painted", "erase what I painted", photo("chelsea"), Image.fromarray(painted))):
        result, seconds = run(reg, "object_removal", text, [image], mask=mask)
        if result.images:
            out = result.images[0].image
            changed = (np.abs(np.asarray(out, np.int16) - np.asarray(image, np.int16)).sum(axis=2) > 0)
            shown_mask = Image.fromarray(changed.astype(np.uint8) * 255)
        else:
            out, shown_mask = image, Image.new("L", image.size, 0)
        cases.append(Case(f"object_removal_{label}", f"object removal “{text}”: {result.backend or '-'}, "
                          f"{seconds:.2f} s", [("input", image), ("changed pixels", shown_mask), ("result", out)],
                          result.message))
    return cases


def style_cases(reg) -> list[Case]:
    from quality_photos import photo

    cases = []
    for name, key in (("astronaut", "starry_night"), ("coffee", "starry_night"), ("flower", "pencil_sketch")):
        image = photo(name, 512)
        result, seconds = run(reg, "style_transfer", f"make it {key}", [image], params={"style_key": key})
        cases.append(Case(f"style_{name}_{key}", f"style transfer {key} on {name}: {result.model_id}, {seconds:.2f} s",
                          [("input", image), ("result", result.images[0].image)], result.message))
    return cases


def upscale_cases(reg) -> list[Case]:
    from PIL import Image

    from quality_photos import photo

    small = photo("astronaut", 512).crop((128, 32, 384, 288)).resize((128, 128), Image.Resampling.LANCZOS)
    result, seconds = run(reg, "upscale", "upscale it 4x", [small], params={"scale": 4})
    lanczos = small.resize((512, 512), Image.Resampling.LANCZOS)
    return [Case("upscale_span", f"upscale ×4 128→512: {result.model_id} {seconds:.2f} s, next to Lanczos",
                 [("input (128²)", small), ("Lanczos ×4", lanczos), (result.model_id, result.images[0].image)],
                 result.message)]


def face_swap_cases(reg) -> list[Case]:
    import numpy as np
    from PIL import Image

    from models.face_swap.landmark_swap import DlibFaces, packaged_model_dir
    from quality_photos import photo

    grace, astronaut = photo("grace_hopper", 512), photo("astronaut", 512)
    faces = DlibFaces(packaged_model_dir())
    cases = []
    for label, source, target in (("grace_onto_astronaut", grace, astronaut),
                                  ("astronaut_onto_grace", astronaut, grace)):
        result, seconds = run(reg, "face_swap", "swap my face onto this photo", [source, target])
        s_rgb, t_rgb = np.asarray(source), np.asarray(target)
        s_face, t_face = faces.detect(s_rgb)[0], faces.detect(t_rgb)[0]
        before = Image.fromarray(poisson_blend(s_rgb, s_face, t_rgb, t_face))
        crop = face_crop(t_face.box, target.size)
        cases.append(Case(f"face_swap_{label}", f"face swap, {label.replace('_', ' ')}: {result.backend}, {seconds:.2f} s",
                          [("source", source.crop(face_crop(s_face.box, source.size))), ("target", target.crop(crop)),
                           ("before: Poisson clone", before.crop(crop)), ("after", result.images[0].image.crop(crop))],
                          result.message))
    return cases


def poisson_blend(source, s_face, target, t_face):
    """The previous blend (whole-face Reinhard colour match + cv2.seamlessClone), for the before/after row."""
    import cv2
    import numpy as np

    from models.face_swap.landmark_swap import _triangles, _warp_triangles, hull_mask

    hull = hull_mask(target.shape, t_face.points)
    warped = _warp_triangles(source, s_face.points, target.shape, t_face.points, _triangles(s_face.points, t_face.points))
    coverage = _warp_triangles(np.full(source.shape[:2], 255, np.uint8), s_face.points, target.shape, t_face.points,
                               _triangles(s_face.points, t_face.points))
    inner = cv2.erode(np.minimum(hull, coverage), np.ones((3, 3), np.uint8))
    src, dst = (cv2.cvtColor(i, cv2.COLOR_RGB2LAB).astype(np.float32) for i in (warped, target))
    s, d = src[inner > 0], dst[inner > 0]
    src = (src - s.mean(0)) * np.clip(d.std(0) / np.maximum(s.std(0), 1e-3), 0.5, 2.0) + d.mean(0)
    warped = cv2.cvtColor(np.clip(src, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    x, y, w, h = cv2.boundingRect(inner)
    cloned = cv2.seamlessClone(warped, target, inner, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    out = target.copy()
    out[hull > 0] = cloned[hull > 0]
    return out


def face_crop(box, size, pad=0.7):
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    return (max(0, int(left - pad * w)), max(0, int(top - pad * h)), min(size[0], int(right + pad * w)),
            min(size[1], int(bottom + pad * h)))


def on_checkerboard(image):
    from PIL import Image

    if image.mode != "RGBA":
        return image
    board = Image.new("RGB", image.size, (200, 200, 200))
    square = 16
    for y in range(0, image.height, square):
        for x in range((y // square % 2) * square, image.width, 2 * square):
            board.paste((150, 150, 150), (x, y, x + square, y + square))
    board.paste(image, (0, 0), image)
    return board


def sheet(cases: list[Case]):
    from PIL import Image, ImageDraw

    columns = max(len(c.tiles) for c in cases)
    caption_h, label_h = 18, 14
    row_h = caption_h + label_h + TILE + 8
    canvas = Image.new("RGB", (columns * (TILE + 8) + 8, row_h * len(cases) + 8), "white")
    draw = ImageDraw.Draw(canvas)
    for r, case in enumerate(cases):
        y = 8 + r * row_h
        draw.text((8, y), case.caption, fill=(0, 0, 0))
        for c, (label, image) in enumerate(case.tiles):
            thumb = image.convert("RGB").copy()
            thumb.thumbnail((TILE, TILE))
            x = 8 + c * (TILE + 8)
            draw.text((x, y + caption_h), label, fill=(80, 80, 80))
            canvas.paste(thumb, (x, y + caption_h + label_h))
    return canvas


def write(cases: list[Case], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for case in cases:
        cells = []
        for index, (label, image) in enumerate(case.tiles):
            file = f"{case.name}_{index}.png"
            (image.convert("RGBA") if image.mode == "RGBA" else image.convert("RGB")).save(out / file)
            cells.append(f"<figure><img src='{file}' width='{TILE}'><figcaption>{html.escape(label)}</figcaption></figure>")
        rows.append(f"<section><h3>{html.escape(case.caption)}</h3><div class='row'>{''.join(cells)}</div>"
                    f"<p class='msg'>{html.escape(case.message)}</p></section>")
    sheet(cases).save(out / "contact_sheet.png")
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>Embedded quality report</title><style>body{font-family:sans-serif}"
        ".row{display:flex;gap:8px}figure{margin:0}.msg{color:#555;max-width:1100px}</style>"
        "<h1>Embedded capabilities on the shipped photos</h1><p><img src='contact_sheet.png' width='600'></p>"
        + "".join(rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "quality"))
    args = parser.parse_args()
    setup()
    reg = registry()
    cases = []
    for make in (background_cases, object_removal_cases, style_cases, upscale_cases, face_swap_cases):
        made = make(reg)
        for case in made:
            print(case.caption, flush=True)
        cases += made
    write(cases, Path(args.out))
    print(f"wrote {len(cases)} cases to {args.out}/index.html and contact_sheet.png")


if __name__ == "__main__":
    main()
