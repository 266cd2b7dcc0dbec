"""The chips under a reply: follow-up suggestions, the capability's own variants, "not what I meant" overrides.

`follow_ups` and `routing_actions` propose; `ChipPolicy.finalize` decides what a reply finally offers, by these
rules (each has a test in tests/test_suggest.py):
1. **Only what can run.** A chip's capability must be available on this server and the images it needs must be
   at hand (the image the chip is bound to, plus the chat's latest image). What a suggestion would do is decided
   the way a typed message is — by the router — so the check is about what the click really does.
2. **Plausible overrides only.** "Not what I meant → X" for runner-up intents with some probability (or, when
   an exact rule decided, intents the message has cue words for) that pass rule 1.
3. **No duplicates.** Chips with the same capability and the same salient parameters ("White background" and
   "Put it on a white background") are merged; the first (most useful) stays.
4. **At most `MAX_CHIPS`, most useful first**: the capability's own variants, then follow-ups, then overrides;
   after an error, working alternatives first.
5. **Bound to their image.** Variants and overrides carry the reply's input image (after a plan, the image its
   last step ran on); follow-ups its final result that is not a mask (after a plan: the last step's image) — so
   a chip never acts on whatever happens to be the latest image when it is clicked, nor on a middle step. A follow-up that does the final step again another way
   ("Try another style", "Make the background transparent" after a white one) acts on the image that step was
   applied to, so a second style replaces the first instead of stacking on it.
6. **Nothing just done again.** A follow-up or variant with the same effect as a step this reply ran (the same
   background colour, edit operation, style, or any upscale) is dropped: after "White background" no "Put it on a
   white background".
7. **One brush chip.** The capability's "Paint it instead" becomes the reply's brush chip: its context says
   `{"ui": "brush", "image_id": …}` (the image the erase was applied to), which the page opens the brush on
   without sending anything; a reply carries at most one such chip (the page adds its own "Erase by painting"
   only to replies without one).
Suggestions that are commands for the operator (`pip …`, `python -m …`, settings) never become chips: they go to
the error's operator details. Advice a person must act on ("Attach both images…") stays as a tip, not a chip.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from core.vocabulary import CHAT, HUMAN_NAMES

MAX_CHIPS = 5
PLAUSIBLE = 0.05  # a runner-up intent below this probability is not offered as an override
MAX_ALTERNATIVES = 3

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

# Commands and settings for whoever runs the server: never a chip (a click would send them as a chat message).
_OPERATOR = re.compile(r"^\s*(run\s+)?(pip3?|python3?|apt(-get)?|export|huggingface-cli|hf|docker)\s|GATEWAY_[A-Z_]+|`|"
                       r"\bHF_(HOME|HUB_[A-Z_]+)\b", re.I)
# Instructions a person has to carry out themselves: shown as a tip, not offered as a chip.
_ADVICE = re.compile(
    r"^\s*(or\s+)?(attach|say|use\s+(a|an|the)\s+(photo|image|picture)|try\s+(a|an)\s+(photo|image|picture)|paint|"
    r"shorten|generate an image first|crop or shrink|ask (again|me)|upload|send)\b|\be\.g\.|\bfirst[.,]?\s*$", re.I)
# Parameters that set an amount rather than what is done: chips differing only in these are duplicates.
_AMOUNT_KEYS = {"scale", "factor", "strength", "seed", "steps", "count", "guidance", "width", "height", "size"}
_SINGLE_EFFECT = {"upscale", "background_removal"}  # capabilities whose chips differ only by parameters
# Capabilities whose follow-up of the same kind replaces the result rather than building on it (rule 5).
_REDO_ON_SOURCE = {"style_transfer", "background_removal"}
BRUSH_ACTION = "paint_instead"  # the capability action that becomes the brush chip (rule 7)


def follow_ups(capability: str, available: set[str], produced_images: bool) -> list[str]:
    if not produced_images:
        return [s for s in _START if _SUGGESTION_CAPABILITY.get(s, "chat") in available | {"chat"}][:2]
    return [s for s in _AFTER_IMAGE.get(capability, []) if _SUGGESTION_CAPABILITY.get(s) in available]


def routing_actions(intent, text: str, attachment_ids: list[str], user_message_id: int | None) -> list[dict]:
    """'Not what I meant' chips for the runner-up intents of this message (`ChipPolicy` keeps the plausible ones)."""
    if intent.source == "forced" or not text:
        return []
    actions = []
    for name, probability in [c for c in intent.candidates if c[0] != intent.name][:3]:
        actions.append({"id": f"reroute:{name}", "label": f"Not what I meant → {HUMAN_NAMES.get(name, name)}",
                        "message": text, "probability": probability,
                        "context": {"force_intent": name, "image_ids": list(attachment_ids),
                                    "corrected_from": intent.name, "correction_of": user_message_id}})
    return actions


def is_operator_fix(text: str) -> bool:
    return bool(_OPERATOR.search(text or ""))


def is_advice(text: str) -> bool:
    return bool(_ADVICE.search(text or ""))


class ChipPolicy:
    """Applies the rules to a reply's proposed actions and suggestions (see the module docstring)."""

    def __init__(self, registry, router=None):
        self.registry = registry
        self.router = router
        self._routes: OrderedDict = OrderedDict()  # (text, forced, n_images) -> (capability, params, ambiguous)

    # ---- entry point ------------------------------------------------------------------------------------
    def finalize(self, response, new_images=(), linked_ids=()) -> None:
        """Rewrites `response.actions`/`suggestions` and sets `metadata["chips"]` (what the UI shows, in order)
        and `metadata["tips"]` (advice that is not a chip). `new_images` are the reply's new outputs,
        `linked_ids` the stored images it shows again (a result-cache hit)."""
        meta = response.metadata
        at_hand = meta.get("inputs_at_hand") or {}
        attachments = list(at_hand.get("attachments") or [])
        latest_before = at_hand.get("latest")
        inputs = attachments or ([latest_before] if latest_before else [])
        final = _final_images(meta, new_images)
        follow_target = ([img.id for img in final] + list(linked_ids))[:1] or inputs[:1]
        redo_target = (_source_of(final[0]) if final else []) or inputs[:1]
        latest_after = follow_target[0] if final or linked_ids else latest_before
        available = self.registry.available_names()
        done = _effects_done(new_images)
        error = response.error or {}

        variants, reroutes, clarify = [], [], []
        for action in response.actions:
            kind = _action_kind(action)
            (reroutes if kind == "reroute" else clarify if kind in ("intent", "consent") else variants).append(action)

        chips: list[dict] = []
        for action in clarify:  # the question's own answers: always first, unchanged apart from the filter
            if self._runnable(action, action.get("context", {}).get("image_ids") or inputs, latest_before, available):
                chips.append(self._chip(action, "answer"))
        step_inputs = redo_target if meta.get("plan") else inputs  # a plan's last step ran on the step before
        for action in variants:
            bound = self._bind(action, step_inputs)
            bound = _as_brush(bound) if action.get("id") == BRUSH_ACTION else bound
            if self._runnable(bound, bound["context"].get("image_ids") or [], latest_after, available) \
                    and not _repeats(bound, done, amounts_too=True):
                chips.append(self._chip(bound, "brush" if bound["context"].get("ui") == "brush" else "variant"))
        suggestions, tips = [], []
        for text in response.suggestions:
            if is_operator_fix(text):
                continue
            if is_advice(text):
                tips.append(text)
                continue
            chip = self._follow_up(text, len(suggestions), (follow_target, redo_target), meta.get("capability"),
                                   latest_after, available)
            if chip is not None and not _repeats(chip, done):
                chips.append(self._chip(chip, "follow_up"))
                suggestions.append(text)
        if error.get("code") == "capability_unavailable":
            chips += self._alternatives(error.get("capability") or meta.get("intent"), inputs, latest_before, available)
        for action in reroutes:
            if self._plausible(action, meta):
                bound = self._bind(action, inputs)
                if self._runnable(bound, bound["context"].get("image_ids") or [], latest_before, available):
                    chips.append(self._chip(bound, "override"))

        chips = _merge_duplicates(chips)[:MAX_CHIPS]
        response.actions = [_public(c) for c in chips if c["kind"] != "follow_up"]
        response.suggestions = [c["message"] for c in chips if c["kind"] == "follow_up"] + tips
        meta["chips"] = [_public(c) for c in chips]
        if tips:
            meta["tips"] = tips

    def _follow_up(self, text: str, index: int, targets, final_capability, latest, available) -> dict | None:
        """A suggestion as a chip bound to the final result, or — when it does the final step again another way —
        to the image that step was applied to (rule 5); None when it cannot run (rule 1)."""
        target, redo_target = targets
        chip = {"id": f"suggest:{index}", "label": text, "message": text,
                "context": {"image_ids": list(target)} if target else {}}
        if not self._runnable(chip, target, latest, available):
            return None
        if chip["_capability"] == final_capability in _REDO_ON_SOURCE and redo_target and redo_target != target:
            chip["context"] = {"image_ids": list(redo_target)}
            if not self._runnable(chip, redo_target, latest, available):
                return None
        return chip

    # ---- the rules ----------------------------------------------------------------------------------------
    def _runnable(self, chip: dict, image_ids, latest, available) -> bool:
        """Rule 1: the chip's capability is available and has the images it needs."""
        image_ids = [i for i in (image_ids or []) if i]
        forced = (chip.get("context") or {}).get("force_intent")
        capability, params, ambiguous = self._route(chip.get("message", ""), forced, len(image_ids), bool(latest))
        if ambiguous and not forced:
            return False
        if capability not in available and capability != CHAT:
            return False
        chip["_capability"], chip["_params"] = capability, params
        try:
            spec = self.registry.get(capability)
        except ValueError:
            return False
        at_hand = len(set(image_ids)) + (1 if latest and latest not in image_ids else 0)
        return at_hand >= spec.min_images

    def _plausible(self, action: dict, meta: dict) -> bool:
        """Rule 2: a runner-up the message gives some reason to consider."""
        name = action["context"].get("force_intent")
        probability = action.get("probability")
        if probability is None:
            probability = dict((n, p) for n, p in meta.get("candidates") or []).get(name, 0.0)
        if str(meta.get("router", "")).startswith("rule:"):
            # An exact rule decided; its runner-up probabilities are an even split. Keep intents with cue words.
            return name in _cue_intents(action.get("message", ""), meta)
        return probability >= PLAUSIBLE

    def _alternatives(self, failed: str, inputs, latest, available) -> list[dict]:
        """After "X isn't set up here": what can run instead with the images at hand (examples, in order)."""
        chips = []
        for cap in self.registry:
            if cap.name == failed or cap.name not in available | {CHAT} or not cap.examples:
                continue
            example = cap.examples[0]
            chip = {"id": f"alternative:{cap.name}", "label": example[:1].upper() + example[1:], "message": example,
                    "context": {"force_intent": cap.name, **({"image_ids": list(inputs)} if inputs and cap.max_images else {})}}
            if self._runnable(chip, chip["context"].get("image_ids") or [], latest if cap.max_images else None, available):
                chips.append(self._chip(chip, "alternative"))
        chips.sort(key=lambda c: c["_capability"] == CHAT)  # work on the image at hand before help
        return chips[:MAX_ALTERNATIVES]

    def _bind(self, action: dict, inputs) -> dict:
        """Rule 5: an action without images of its own acts on the reply's input."""
        context = dict(action.get("context") or {})
        if not context.get("image_ids") and inputs:
            context["image_ids"] = list(inputs)
        return {**action, "context": context}

    def _route(self, text: str, forced: str | None, n_images: int, has_latest: bool):
        key = (text, forced, n_images, has_latest)
        if key in self._routes:
            self._routes.move_to_end(key)
            return self._routes[key]
        if self.router is None:
            found = (forced or _SUGGESTION_CAPABILITY.get(text, CHAT), {}, False)
        else:
            from pipeline.understand.classify import ClassifyContext

            intent = self.router.route(text, ClassifyContext(n_images=n_images, has_latest_image=has_latest),
                                       forced_intent=forced)
            found = (intent.name, dict(intent.params), bool(intent.ambiguous))
        self._routes[key] = found
        if len(self._routes) > 512:
            self._routes.popitem(last=False)
        return found

    @staticmethod
    def _chip(action: dict, kind: str) -> dict:
        return {**action, "kind": kind}


def _action_kind(action: dict) -> str:
    return str(action.get("id", "")).split(":", 1)[0] if ":" in str(action.get("id", "")) else "action"


def _cue_intents(text: str, meta: dict) -> set[str]:
    from pipeline.understand.classify import ClassifyContext, KeywordClassifier

    n = len((meta.get("inputs_at_hand") or {}).get("attachments") or [])
    latest = bool((meta.get("inputs_at_hand") or {}).get("latest"))
    ranked = KeywordClassifier().classify(text, ClassifyContext(n_images=n, has_latest_image=latest)).candidates
    return {name for name, p in ranked if p > 0}


def _signature(chip: dict) -> tuple:
    params = dict(chip.get("_params") or {})
    params.update((chip.get("context") or {}).get("params") or {})
    if "style_key" in params:
        params.pop("style", None)
    salient = tuple(sorted((k, str(v)) for k, v in params.items() if k not in _AMOUNT_KEYS))
    capability = chip.get("_capability")
    if not salient and capability not in _SINGLE_EFFECT:
        salient = (("text", " ".join(chip.get("message", "").lower().split())),)
    return capability, salient  # the bound image is left out: chips that look the same to a person are one chip


def _merge_duplicates(chips: list[dict]) -> list[dict]:
    """Rule 3, and rule 4's order: answers, alternatives, variants, follow-ups, overrides."""
    order = {"answer": 0, "alternative": 1, "variant": 2, "brush": 2, "follow_up": 3, "override": 4}
    chips = sorted(chips, key=lambda c: order.get(c["kind"], 5))
    seen, merged = set(), []
    for chip in chips:
        signature = _signature(chip)
        if chip["kind"] in ("answer", "override"):
            signature = (chip["kind"],) + signature  # an override re-runs with a correction: never merged away
        if chip["kind"] == "brush":
            signature = ("brush",)  # rule 7: one brush chip
        if signature in seen:
            continue
        seen.add(signature)
        merged.append(chip)
    return merged


def _public(chip: dict) -> dict:
    return {"id": chip["id"], "label": chip["label"], "message": chip.get("message", ""),
            "context": dict(chip.get("context") or {}), "kind": chip["kind"]}


# ---- what the reply made and did (rules 5 and 6) ----------------------------------------------------------------
def _recipe(image) -> dict:
    return dict(getattr(image, "recipe", None) or {})


def _final_images(meta: dict, new_images) -> list:
    """The reply's result images that are not masks; after a plan only the last finished step's."""
    images = [img for img in new_images if _recipe(img).get("output") != "mask"]
    steps = [s for s in meta.get("plan") or [] if s.get("status") == "done" and s.get("image_ids")]
    if steps:
        last = set(steps[-1]["image_ids"])
        images = [img for img in images if img.id in last] or images
    return images


def _source_of(image) -> list[str]:
    """The image a result was made from (its first parent: a style's content image, a cut-out's photo)."""
    parents = list(getattr(image, "parent_ids", None) or _recipe(image).get("parent_ids") or [])
    return parents[:1]


def _effect(capability: str | None, params: dict):
    """What a run does, as far as "the same thing again" goes (None: never a repeat, e.g. a new generation)."""
    if capability == "background_removal":
        if params.get("mask_output") == "only" or params.get("output") == "mask":
            return capability, "mask"
        return capability, str(params.get("background") or "transparent").replace("grey", "gray")
    if capability == "image_edit":
        return (capability, str(params.get("operation"))) if params.get("operation") else None
    if capability == "style_transfer":
        style = params.get("style_key") or params.get("style")
        return (capability, str(style)) if style else None
    if capability == "object_removal":
        return (capability, str(params["target"]).lower()) if params.get("target") else None
    if capability in ("upscale", "face_swap"):
        return (capability,)
    return None


def _effects_done(new_images) -> dict:
    """Effect → the amounts it ran with, for every image this reply made."""
    done = {}
    for image in new_images:
        recipe = _recipe(image)
        effect = _effect(recipe.get("capability"), recipe)
        if effect is not None:
            done[effect] = {k: recipe.get(k) for k in _AMOUNT_KEYS | {"strength"} if k in recipe}
    return done


def _repeats(chip: dict, done: dict, amounts_too: bool = False) -> bool:
    """Rule 6: the chip does what this reply just did (a variant only when its amounts are the same too)."""
    params = {**(chip.get("_params") or {}), **((chip.get("context") or {}).get("params") or {})}
    effect = _effect(chip.get("_capability"), params)
    if effect is None or effect not in done:
        return False
    if not amounts_too:
        return True
    return all(done[effect].get(k) == v for k, v in params.items() if k in _AMOUNT_KEYS | {"strength"})


def _as_brush(action: dict) -> dict:
    """Rule 7: "Paint it instead" opens the brush on the image the erase was applied to."""
    context = dict(action.get("context") or {})
    image_ids = list(context.get("image_ids") or [])
    if image_ids:
        context.update(ui="brush", image_id=image_ids[0])
    return {**action, "context": context}
