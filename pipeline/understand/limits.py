"""The ranges a request's parameters are held to before a capability sees them, and the note that says so.

`clamp_params(intent, params)` keeps every stated value inside its range (four images at most, 64–2048 pixels a
side, 2–4x for an upscale…), drops values of the wrong type, and returns a note for each change, so the reply can
say "I made 8 images, the most per request" instead of failing or silently doing something else.
"""

from __future__ import annotations

LIMITS = {"count": (1, 8), "width": (64, 2048), "height": (64, 2048), "steps": (1, 150), "angle": (0, 360),
          "seed": (0, 2**32 - 1)}
UPSCALE_LIMITS = (2, 4)
EDIT_SCALE_LIMITS = (0.05, 8.0)


def clamp_params(intent, params: dict) -> tuple[dict, list[str]]:
    """Fit `params` to what the capability accepts; the notes say what changed, in words for the reply."""
    name = getattr(intent, "name", intent) or ""
    out, notes = dict(params), []
    labels = {"count": "images per request", "width": "width", "height": "height", "steps": "steps",
              "angle": "rotation", "seed": "seed"}
    for key, (low, high) in LIMITS.items():
        if key not in out or out[key] is None:
            continue
        try:
            value = int(out[key])
        except (TypeError, ValueError):
            notes.append(f"Ignored the {labels[key]} {out[key]!r}: it is not a whole number.")
            del out[key]
            continue
        if key == "angle":
            value = value % 360 if value != 360 else 360
        clamped = min(max(value, low), high)
        if key in ("width", "height"):
            snapped = max(low, min(high, int(round(clamped / 8)) * 8))
            if clamped != value:
                notes.append(f"The {labels[key]} {value}px is outside {low}–{high}px; used {snapped}px.")
            elif snapped != value:
                notes.append(f"The {labels[key]} {value}px was rounded to {snapped}px (a multiple of 8).")
            clamped = snapped
        elif clamped != value:
            unit = "°" if key == "angle" else ""
            notes.append(f"{labels[key].capitalize()} {value}{unit} is outside {low}–{high}{unit}; used {clamped}{unit}.")
        out[key] = clamped
    if "scale" in out and out["scale"] is not None:
        low, high = UPSCALE_LIMITS if name == "upscale" else EDIT_SCALE_LIMITS
        try:
            value = float(out["scale"])
        except (TypeError, ValueError):
            notes.append(f"Ignored the scale {out['scale']!r}: it is not a number.")
            del out["scale"]
        else:
            clamped = min(max(value, low), high)
            if clamped != value:
                notes.append(f"A {_fmt(value)}x scale is outside {_fmt(low)}x–{_fmt(high)}x; used {_fmt(clamped)}x.")
            if name == "upscale" and not float(clamped).is_integer():
                whole = int(clamped + 0.5)  # the models come in whole factors
                notes.append(f"Upscaling works in whole factors; used {whole}x instead of {_fmt(clamped)}x.")
                clamped = whole
            elif name == "upscale":
                clamped = int(clamped)
            out["scale"] = clamped
    if "factor" in out:
        out["factor"] = min(max(float(out["factor"]), 0.05), 4.0)
    return out, notes


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
