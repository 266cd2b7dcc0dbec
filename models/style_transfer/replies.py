"""What the user reads and clicks after a style request: the message, the recipe, and the chips.

Chips re-run style transfer on the same source image (its store id travels in the chip's context, otherwise
the chip would restyle the result) with `force_intent` set, so they never depend on the intent classifier;
each chip's message names the same style its params do, so parsing the message again agrees with them.
"""

from __future__ import annotations

from models.contracts import Action, CapabilityResult, OutputImage
from models.style_transfer.catalogue import DEFAULT_SUGGESTIONS, Style, menu
from models.style_transfer.planning import Plan

CAPABILITY = "style_transfer"


def style_chip(style: Style, image_id: str | None, strength: float | None = None, label: str = "") -> Action:
    phrase = style.aliases[0]
    message = f"Apply the {phrase} style" + (f" at {round(strength * 100)}% strength" if strength is not None else "")
    params = {"style": phrase, "style_key": style.key}
    if strength is not None:
        params["strength"] = strength
    context = {"force_intent": CAPABILITY, "params": params}
    if image_id:
        context["image_ids"] = [image_id]
    suffix = "" if strength is None else f"-{round(strength * 100)}"
    return Action(id=f"style:{style.key}{suffix}", label=label or short_label(style), message=message, context=context)


def short_label(style: Style) -> str:
    return style.label.split(" (")[0].split(":")[0]


def follow_up_chips(plan: Plan, used: Style | None, strength: float) -> list[Action]:
    """Stronger/subtler and two other styles — only when the source image has a store id to point at."""
    image_id = plan.content.image_id
    if not image_id:
        return []
    chips = []
    if used is not None:
        if strength > 0.6:
            chips.append(style_chip(used, image_id, 0.5, label="Subtler (50%)"))
        else:
            chips.append(style_chip(used, image_id, 1.0, label="Stronger (100%)"))
    others = [s for s in menu() if used is None or s.key != used.key][:2]
    chips += [style_chip(s, image_id, label=f"Try {short_label(s)}") for s in others]
    return chips


def image_result(plan: Plan, image, message: str, model_id: str, recipe: dict, used: Style | None,
                 strength: float, metadata: dict | None = None, png_text: dict | None = None) -> CapabilityResult:
    recipe = {"requested_style": plan.requested, "strength": strength, "preserve_color": plan.preserve_color,
              **recipe}
    return CapabilityResult(
        images=[OutputImage(image=image, recipe=recipe, parent_ids=plan.parent_ids, png_text=dict(png_text or {}))],
        message=message, model_id=model_id, metadata={"style": recipe.get("style"), **(metadata or {})},
        actions=follow_up_chips(plan, used, strength),
        suggestions=["Try another style: Monet, ukiyo-e or a pencil sketch", "Upscale it"])


def ask_for_style(plan: Plan, intro: str = "") -> CapabilityResult:
    styles = menu(DEFAULT_SUGGESTIONS)
    names = ", ".join(s.aliases[0] for s in styles)
    message = (intro + " " if intro else "") + (
        f"Which style would you like? For example: {names} — or attach a painting as a second image and I'll "
        "copy its style.")
    return CapabilityResult(type="clarification", message=message,
                            actions=[style_chip(s, plan.content.image_id, label=short_label(s)) for s in styles],
                            metadata={"needs": "style"})


def strength_words(strength: float) -> str:
    return "" if strength >= 1.0 else f" at {round(strength * 100)}% strength"
