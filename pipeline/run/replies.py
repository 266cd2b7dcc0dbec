"""`Replies`: turning a finished (or refused, unclear, failed) step into the stored assistant message.

Single requests and plans store their replies the same way: the images are encoded as PNGs with their recipe
(`new_image`), the chips are bound to the images just made (`ChipPolicy.finalize`), and the reply, its images and
the turn's timings go into the store in one transaction (`save`). `result` formats a capability's result,
`clarify` asks which of the likely intents was meant, `ask_consent` asks for a confirmation, `error` builds an
error reply (stored by `save` when the user message was).
"""

from __future__ import annotations

import json

from core.errors import ConsentRequired, GatewayError
from core.images import encode_png
from core.jsonable import jsonable
from core.vocabulary import HUMAN_NAMES
from models.contracts import CapabilityResult
from pipeline.run.response import CLARIFICATION, ERROR, Response, ResponseImage
from pipeline.run.suggest import follow_ups, routing_actions
from pipeline.run.turn import Turn, elapsed_ms
from pipeline.store import NewImage


class Replies:
    def __init__(self, settings, store, registry, chips):
        self.settings, self.store, self.registry, self.chips = settings, store, registry, chips

    def new_image(self, image, recipe: dict, parent_ids, png_text: dict | None = None) -> NewImage:
        """A PNG ready to store, with its recipe in a text chunk (and the A1111 `parameters` a backend gives)."""
        text = {"gateway_recipe": json.dumps(recipe, ensure_ascii=False, default=str), **(png_text or {})}
        if recipe.get("capability"):
            text.setdefault("Software", "AI image gateway")
        data = encode_png(image, text=text, compress_level=self.settings.png_compress_level)
        return NewImage(data=data, width=image.width, height=image.height, mime="image/png",
                        parent_ids=list(parent_ids), recipe=recipe)

    @staticmethod
    def error(session_id: str, exc: GatewayError, error_id: str | None = None) -> Response:
        error = exc.to_dict()
        if error_id:
            error["error_id"] = error_id
        return Response(session_id=session_id or "", message_id=None, type=ERROR, message=exc.message,
                        error=error, suggestions=list(exc.suggestions))

    def save(self, turn: Turn, response: Response, new_images=(), image_ids=(), extra_actions=(),
              meta: dict | None = None) -> Response:
        """Store the reply with its images; it carries the turn's metadata (under its own) and timings."""
        response.metadata = {**(turn.meta if meta is None else meta), **response.metadata}
        response.actions = list(response.actions) + list(extra_actions)
        self.chips.finalize(response, new_images, image_ids)
        with turn.timed("store"):
            response.metadata["timings_ms"] = dict(turn.timings)
            row = self.store.add_message(turn.session_id, turn.owner, "assistant", response.message,
                                         metadata=response.metadata_for_store(), new_images=list(new_images),
                                         image_ids=list(image_ids))
        response.message_id = row.id
        response.images = [ResponseImage(id=img.id, path=str(img.path), width=img.width, height=img.height,
                                         mime=img.mime) for img in row.images]
        turn.timings["total_ms"] = elapsed_ms(turn.started)
        response.metadata["timings_ms"] = dict(turn.timings)
        return response

    def result(self, turn: Turn, intent, refinement, result: CapabilityResult) -> Response:
        """A capability's result as the stored reply: its images with recipes, its message with the notes, chips."""
        with turn.timed("format"):
            new_images = []
            for out in result.images:
                recipe = {"capability": intent.name, "backend": result.backend, "model_id": result.model_id,
                          **out.recipe, "parent_ids": out.parent_ids}
                new_images.append(self.new_image(out.image, recipe, out.parent_ids, out.png_text))
            meta = turn.meta
            meta.update({"capability": intent.name, "backend": result.backend, "model_id": result.model_id,
                         **{k: v for k, v in result.metadata.items() if jsonable(v)}})
            linked = list(getattr(result, "cached_image_ids", []) or [])  # a result-cache hit: stored images
            message = result.message or ("Done." if result.images or linked else "")
            if meta["notes"]:
                notes = "; ".join(note.rstrip(" .") for note in meta["notes"])
                message = (message + "\n\n" if message else "") + "Note: " + notes + "."
            actions = [a.to_dict() for a in result.actions]
            actions += routing_actions(intent, turn.text, turn.attachment_ids, meta["user_message_id"])
            generic = (follow_ups(intent.name, self.registry.available_names(), bool(new_images or linked))
                       if result.type != CLARIFICATION else [])
            response = Response(session_id=turn.session_id, message_id=None, type=result.type, message=message,
                                prompt=refinement.prompt or None, negative_prompt=refinement.negative or None,
                                metadata={}, actions=actions,
                                suggestions=list(dict.fromkeys(result.suggestions + generic))[:4])
        return self.save(turn, response, new_images=new_images, image_ids=linked)

    def clarify(self, turn: Turn, intent) -> Response:
        actions = [{"id": f"intent:{name}", "label": HUMAN_NAMES.get(name, name), "message": turn.text,
                    "context": {"force_intent": name, "image_ids": turn.attachment_ids}}
                   for name, _ in intent.candidates[:3]]
        response = Response(session_id=turn.session_id, message_id=None, type=CLARIFICATION,
                            message="I'm not sure what you'd like me to do. Did you mean one of these?", actions=actions)
        return self.save(turn, response)

    def ask_consent(self, turn: Turn, exc: ConsentRequired, chip_context: dict, meta: dict | None = None) -> Response:
        """The question and one chip that sends the same message again with `consent: true`."""
        actions = [{"id": f"consent:{exc.consent_key}", "label": exc.confirm_label, "message": turn.text,
                    "context": {"consent": True, "image_ids": turn.attachment_ids, **chip_context}}]
        response = Response(session_id=turn.session_id, message_id=None, type=CLARIFICATION, message=exc.message,
                            metadata={"needs_consent": exc.consent_key}, actions=actions,
                            error={"code": exc.code, "message": exc.message})
        return self.save(turn, response, meta=meta)
