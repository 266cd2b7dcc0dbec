"""Follow-up suggestions and the routing card's "not what I meant" chips.

Suggestions are plain requests the user can click to send; only capabilities that can actually run here are
suggested. Routing actions re-run the same message with another intent forced and record the correction,
so a wrong route costs one click.
"""

from __future__ import annotations

from core.vocabulary import HUMAN_NAMES

_AFTER_IMAGE = {
    "image_generation": ["Upscale it 2x", "Remove the background", "Make it look like Van Gogh", "Make variations of it"],
    "background_removal": ["Put it on a white background", "Upscale it 2x", "Make it look like Van Gogh"],
    "object_removal": ["Upscale it 2x", "Make it a bit brighter", "Remove the background"],
    "style_transfer": ["Upscale it 2x", "Try the mosaic style instead", "Crop it to a square"],
    "upscale": ["Remove the background", "Sharpen it a bit", "Make it look like Van Gogh"],
    "image_edit": ["Upscale it 2x", "Remove the background", "Make it black and white"],
    "face_swap": ["Upscale it 2x", "Make it look like Van Gogh", "Remove the background"],
}
_SUGGESTION_CAPABILITY = {
    "Upscale it 2x": "upscale", "Remove the background": "background_removal",
    "Make it look like Van Gogh": "style_transfer", "Make variations of it": "image_generation",
    "Put it on a white background": "background_removal", "Make it a bit brighter": "image_edit",
    "Try the mosaic style instead": "style_transfer", "Crop it to a square": "image_edit",
    "Sharpen it a bit": "image_edit", "Make it black and white": "image_edit",
}
_START = ["Create a fantasy dragon", "What can you do?"]


def follow_ups(capability: str, available: set[str], produced_images: bool) -> list[str]:
    if not produced_images:
        return [s for s in _START if _SUGGESTION_CAPABILITY.get(s, "chat") in available | {"chat"}][:2]
    return [s for s in _AFTER_IMAGE.get(capability, []) if _SUGGESTION_CAPABILITY.get(s) in available]


def routing_actions(intent, text: str, attachment_ids: list[str], user_message_id: int | None) -> list[dict]:
    """'Not what I meant' chips for the runner-up intents of this message."""
    if intent.source == "forced" or not text:
        return []
    actions = []
    for name, _ in [c for c in intent.candidates if c[0] != intent.name][:2]:
        actions.append({"id": f"reroute:{name}", "label": f"Not what I meant → {HUMAN_NAMES.get(name, name)}",
                        "message": text, "context": {"force_intent": name, "image_ids": list(attachment_ids),
                                                     "corrected_from": intent.name, "correction_of": user_message_id}})
    return actions
