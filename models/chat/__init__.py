"""The `chat` capability: greetings, help and questions about the app, answered from the live registry.

Nothing here is canned text about capabilities: the answer lists what the registry says right now — which
capabilities can run, with which backend and licence, and for those that cannot, why and how to enable them.
"""

from __future__ import annotations

import re

from models.contracts import Backend, Capability, CapabilityRequest, CapabilityResult

_TOPICS = {
    "image_generation": ("generat", "create", "draw", "text-to-image", "text to image", "stable diffusion", "prompt"),
    "face_swap": ("face",),
    "background_removal": ("background", "cut out", "cutout", "transparent"),
    "object_removal": ("erase", "remove object", "inpaint", "object"),
    "style_transfer": ("style", "van gogh", "paint"),
    "upscale": ("upscal", "resolution", "enlarge", "super-res"),
    "image_edit": ("rotate", "crop", "resize", "flip", "bright", "contrast", "edit"),
}
_GREETING = re.compile(r"^\s*(hi|hello|hey|yo|hiya|good (morning|afternoon|evening)|greetings)\b", re.I)
_THANKS = re.compile(r"\b(thanks|thank you|thx|cheers|great job|awesome)\b", re.I)


class RegistryHelpBackend(Backend):
    name = "registry_help"
    capability = "chat"
    licence = "project code"
    description = "Answers help and capability questions from the live capability registry."
    embedded = True
    uses_model = False

    def __init__(self, settings=None):
        super().__init__(settings)
        self.registry = None

    def attach_registry(self, registry) -> None:
        self.registry = registry

    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        text = request.text.lower()
        caps = {c["name"]: c for c in self.registry.describe(max_age_s=10)} if self.registry else {}
        topics = [name for name, words in _TOPICS.items() if any(w in text for w in words) and name in caps]
        if topics:
            message = "\n\n".join(_explain(caps[name]) for name in topics[:2])
        elif _THANKS.search(text):
            message = "You're welcome! Anything else? " + _one_line_summary(caps)
        else:
            opener = "Hi! " if _GREETING.search(text) else ""
            message = opener + _overview(caps)
        return CapabilityResult(type="text", message=message,
                                suggestions=[c["examples"][0] for c in caps.values() if c["available"] and c["examples"]][:3])


def _explain(cap: dict) -> str:
    title = cap["name"].replace("_", " ")
    lines = [f"**{title}** — {cap['description']}"]
    if not cap["backends"]:
        lines.append(f"Not available yet: {cap['note']}")
    for b in cap["backends"]:
        state = {"ready": "ready", "downloadable": "weights not downloaded yet", "missing": "not installed"}.get(b["status"], b["status"])
        line = f"- {b['name']}: {state}"
        if b["licence"]:
            line += f" (licence: {b['licence']})"
        if b["status"] != "ready" and b["reason"]:
            line += f" — {b['reason']}"
        if b["status"] != "ready" and b["fix"]:
            line += f" Fix: `{b['fix']}`"
        lines.append(line)
    if cap["available"] and cap["examples"]:
        lines.append("Try: " + " · ".join(f"“{e}”" for e in cap["examples"][:3]))
    return "\n".join(lines)


def _overview(caps: dict) -> str:
    ready = [c for c in caps.values() if c["available"] and c["name"] != "chat"]
    missing = [c for c in caps.values() if not c["available"] and c["name"] != "chat"]
    lines = ["Here is what I can do right now (attach an image, or refer to the last one with “it”):"]
    for c in ready:
        example = f" — e.g. “{c['examples'][0]}”" if c["examples"] else ""
        lines.append(f"- **{c['name'].replace('_', ' ')}**: {c['description']}{example}")
    if missing:
        lines.append("Not available on this server: " + ", ".join(c["name"].replace("_", " ") for c in missing)
                     + ". Ask me about one of them to see why and how to enable it.")
    return "\n".join(lines)


def _one_line_summary(caps: dict) -> str:
    ready = [c["name"].replace("_", " ") for c in caps.values() if c["available"] and c["name"] != "chat"]
    return ("I can do: " + ", ".join(ready) + ".") if ready else ""


def capability(settings) -> Capability:
    return Capability(
        name="chat",
        description="greetings, help and questions about what this app can do",
        examples=("What can you do?", "How do I remove a background?"),
        min_images=0, max_images=0,
        backends=[RegistryHelpBackend(settings)],
    )
