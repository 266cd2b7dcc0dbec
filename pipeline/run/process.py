"""`Pipeline.process_message`: one chat message through classify → refine → route → format.

The caller (UI or API) passes the text, the session id ("" for a new session), the attached images (paths,
bytes or PIL images) and a context dict: `owner` (an owner id from pipeline.boundary.identity, required), and
optionally `mask`, `force_intent`, `params`, `image_ids` (stored images to use as attachments — chips use
this to re-run a message), `consent`, `correction_of`, `progress`, `cancel_event`. Input that cannot be
accepted (a value of the wrong type — see pipeline.boundary.schema —, giant text, broken image, unknown session) is
answered without writing anything; once accepted, the user message (with its session, when it is the first)
and then the reply are stored, each message in one transaction, and whatever fails after the user message is
stored still stores an error reply, so no message is left unanswered. Expected problems are `GatewayError`s
and become ordinary replies; anything else is logged with a traceback and answered with an error id, and the
server keeps serving.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from core.errors import Cancelled, ConsentRequired, GatewayError, InvalidInput, TimeLimitExceeded
from core.images import DecodeBudget, encode_png, load_image, read_header
from core.jsonable import jsonable as _jsonable
from core.vocabulary import HUMAN_NAMES
from models.contracts import CapabilityRequest, CapabilityResult, InputImage
from pipeline.boundary import schema
from pipeline.understand.classify import ClassifyContext, Intent
from pipeline.run.plans import PlanJob, plan_for, run_plan
from pipeline.run.recovery import retry_action
from pipeline.run.references import resolve_inputs
from pipeline.run.result_cache import ResultCache
from pipeline.run.response import CLARIFICATION, ERROR, Response, ResponseImage
from pipeline.store import NewImage
from pipeline.run.targets import resolve_pronoun_targets
from pipeline.run.titles import session_title  # the live chat names the sessions it opens with it too
from pipeline.run.suggest import ChipPolicy, follow_ups, routing_actions

log = logging.getLogger(__name__)

CREDENTIAL_KEYS = ("hf_token", "x_ip_token")  # set by the UI from the signed-in user / the request headers; never stored
CONTEXT_KEYS = schema.CONTEXT_KEYS  # accepted from API callers


class Pipeline:
    def __init__(self, settings, store, registry, router, refiner, executor=None):
        from pipeline.executors import LocalExecutor

        self.settings = settings
        self.store = store
        self.registry = registry
        self.router = router
        self.refiner = refiner
        self.executor = executor or LocalExecutor(registry, model_slots=settings.concurrency_limit,
                                                  time_limit_s=settings.model_time_limit_s)
        self.results = ResultCache(store, registry, settings)
        self.chips = ChipPolicy(registry, router)
        # Decoded images of all requests share one byte budget (the browser's and the API's alike).
        self.decode_budget = DecodeBudget(settings.decode_budget_mb * 2**20)

    # ---- entry point -----------------------------------------------------------------------------------
    def process_message(self, message: str, session_id: str | None, images=(), context: dict | None = None) -> Response:
        context = dict(context or {})
        owner = context.get("owner")
        timings: dict[str, float] = {}
        started = time.perf_counter()
        try:
            session_id = schema.check_id_text(session_id, "session_id")
        except GatewayError as exc:
            return self._error_reply("", exc)
        try:
            if not owner:
                raise InvalidInput("No owner given for this request.")
            text = schema.check_message(message, self.settings.max_prompt_chars).strip()
            context.update(schema.check_context({k: v for k, v in context.items() if k in CONTEXT_KEYS}))
            session = self.store.get_session(session_id, owner) if session_id else None
            self._check_correction(session, owner, context.get("correction_of"))
            uploads, cost = self._read_inputs(images, owner, session, context)
        except GatewayError as exc:
            return self._error_reply(session_id, exc)
        try:
            with self.decode_budget.hold(cost, "this message's images"):
                return self._decoded(text, session_title(text, images), session, uploads, owner, context, timings,
                                     started)
        except GatewayError as exc:
            return self._error_reply(session_id, exc)

    def _decoded(self, text, title, session, uploads, owner, context, timings, started) -> Response:
        """Decode the inputs (inside the caller's share of the decode budget), then run the message."""
        try:
            attachments, notes = self._load_attachments(uploads, owner, context)
            mask = self._load_mask(context.get("mask"))
        except GatewayError as exc:
            return self._error_reply(session.id if session else "", exc)
        timings["validate_ms"] = _ms(started)
        turn: dict = {"title": title}  # + the session and the user message, once stored
        try:
            return self._accepted(text, session, attachments, mask, notes, owner, context, timings, started, turn)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the log has the traceback
            return self._failed(exc, text, owner, context, turn, timings, started)

    def _failed(self, exc, text, owner, context, turn, timings, started) -> Response:
        """The reply to a request that failed after validation; stored when its user message was."""
        if isinstance(exc, GatewayError):
            reply = self._error_reply(turn.get("session_id", ""), exc)
        else:
            error_id = uuid.uuid4().hex[:12]
            log.exception("error %s while processing a message in session %s", error_id, turn.get("session_id"))
            reply = self._error_reply(turn.get("session_id", ""), GatewayError(
                f"Something went wrong on our side (error id {error_id}). Your message was not lost; please try again."),
                error_id=error_id)
        if not turn.get("user_message_id"):
            return reply  # nothing was written
        reply.actions = [retry_action(text, turn["image_ids"], _public_context(context))]
        try:
            return self._store_reply(turn["session_id"], owner, reply, {"user_message_id": turn["user_message_id"]},
                                     timings, started)
        except Exception:  # noqa: BLE001 - e.g. the session was deleted meanwhile; start-up repair covers the rest
            log.exception("could not store the error reply to message %s", turn["user_message_id"])
            return reply

    # ---- validation ------------------------------------------------------------------------------------
    def _check_correction(self, session, owner: str, message_id) -> None:
        if message_id is None:
            return
        if session is None or not self.store.has_message(session.id, owner, message_id, role="user"):
            raise InvalidInput("`context.correction_of` is not a message of this conversation.",
                               details={"field": "context.correction_of"})

    def _read_inputs(self, images, owner: str, session, context: dict):
        """The uploads' bytes and headers (nothing decoded yet) and the bytes decoding all inputs will hold."""
        images = [img for img in (images or []) if img is not None]
        stored_ids = list(context.get("image_ids") or [])
        if len(images) + len(stored_ids) > self.settings.max_images_per_message:
            raise InvalidInput(f"At most {self.settings.max_images_per_message} images per message, please.")
        uploads, cost = [], 0
        for index, source in enumerate(images):
            label = "the image" if len(images) == 1 else f"image {index + 1}"
            if hasattr(source, "convert"):  # an open PIL image (tests, plans)
                uploads.append((source, label))
                cost += source.width * source.height * 8
                continue
            data, header = read_header(source, max_bytes=self.settings.max_upload_bytes,
                                       max_pixels=self.settings.max_image_pixels, label=label)
            uploads.append((data, label))
            cost += header.decode_bytes
        rows = [self.store.get_image(str(image_id), owner) for image_id in stored_ids]
        latest = self.store.latest_image(session.id, owner) if session is not None else None
        cost += sum(row.width * row.height * 8 for row in rows + ([latest] if latest else []))
        if context.get("mask") is not None:
            mask = context["mask"]
            if hasattr(mask, "convert"):
                cost += mask.width * mask.height * 8
            else:
                data, header = read_header(mask, max_bytes=self.settings.max_upload_bytes,
                                           max_pixels=self.settings.max_image_pixels, label="the mask")
                context["mask"] = data
                cost += header.decode_bytes
        return uploads, cost

    def _load_attachments(self, uploads, owner: str, context: dict):
        loaded, notes = [], []
        for image_id in context.get("image_ids") or []:
            row = self.store.get_image(str(image_id), owner)
            img = load_image(row.path, max_bytes=2**40, max_pixels=self.settings.max_output_pixels)
            loaded.append(InputImage(img.image, image_id=row.id, recipe=row.recipe or None, role="attachment"))
        for source, label in uploads:
            img = load_image(source, max_bytes=self.settings.max_upload_bytes,
                             max_pixels=self.settings.max_image_pixels, label=label)
            loaded.append(InputImage(img.image, image_id=None, role="attachment"))
            notes.extend(img.notes)
        return loaded, notes

    def _load_mask(self, source):
        if source is None:
            return None
        mask = load_image(source, max_bytes=self.settings.max_upload_bytes,
                          max_pixels=self.settings.max_image_pixels, label="the mask").image
        if mask.mode == "RGBA" and mask.getextrema()[3][0] < 255:
            return mask.getchannel("A")  # painted strokes on a transparent layer
        return mask.convert("L")

    # ---- the four steps ---------------------------------------------------------------------------------
    def _accepted(self, text, session, attachments, mask, notes, owner, context, timings, started, turn) -> Response:
        # before this message's own images are stored
        latest = self.store.latest_image(session.id, owner) if session is not None else None
        # Attachments are stored with the user message, so chips can re-run it and "it" can refer to them.
        new_images = []
        for inp in attachments:
            if inp.image_id is None:
                new_images.append(self._new_image(inp.image, {"source": "upload"}, []))
                inp.image_id = new_images[-1].id
        stored_ids = [i for i in (context.get("image_ids") or [])]
        user_meta = {"context": _public_context(context), "notes": notes}
        if session is None:  # a session is created only together with its first message
            session, user_row = self.store.start_session(owner, "user", text, title=turn["title"],
                                                         metadata=user_meta, image_ids=stored_ids,
                                                         new_images=new_images)
            if callable(context.get("on_session")):  # the browser's draft chat becomes this session now
                context["on_session"](session.id)
        else:
            user_row = self.store.add_message(session.id, owner, "user", text, metadata=user_meta,
                                              image_ids=stored_ids, new_images=new_images)
        turn.update(session_id=session.id, user_message_id=user_row.id, image_ids=[img.id for img in user_row.images])
        attachment_ids = [inp.image_id for inp in attachments]

        t = time.perf_counter()
        classify_context = ClassifyContext(n_images=len(attachments), has_latest_image=latest is not None,
                                           has_mask=mask is not None)
        plan = plan_for(self.router, text, classify_context, forced_intent=context.get("force_intent"))
        notes = notes + resolve_pronoun_targets(plan, self.store, session.id, owner, mask is not None)
        intent = plan.steps[0].intent
        intent.params.update(context.get("params") or {})
        timings["classify_ms"] = _ms(t)
        if context.get("correction_of"):
            self.store.record_correction(session.id, owner, context["correction_of"], text,
                                         context.get("corrected_from", ""), intent.name)

        base_meta = {"intent": intent.name, "confidence": round(intent.confidence, 3),
                     "candidates": [[n, round(p, 3)] for n, p in intent.candidates[:3]],
                     "router": intent.source, "notes": list(notes), "user_message_id": user_row.id,
                     "inputs_at_hand": {"attachments": attachment_ids, "latest": latest.id if latest else None}}
        if plan.compound:
            return run_plan(self, plan, PlanJob(text, session.id, owner, attachments, latest, mask, context,
                                                _public_context(context), base_meta, timings, started, attachment_ids))
        if intent.ambiguous and not context.get("force_intent"):
            return self._clarify(session.id, owner, text, intent, attachment_ids, base_meta, timings, started)

        try:
            capability = self.registry.get(intent.name)
            t = time.perf_counter()
            refinement = self.refiner.refine(text, intent)
            timings["refine_ms"] = _ms(t)
            base_meta["notes"] += refinement.notes
            inputs = resolve_inputs(attachments, latest, capability, self._load_stored)
            self._check_consent(capability, session, owner, context, inputs, refinement.params)
            request = CapabilityRequest(
                capability=capability.name, text=text, params=refinement.params, images=inputs, mask=mask,
                prompt=refinement.prompt, negative_prompt=refinement.negative, context=_public_context(context),
                session_metadata=dict(self.store.get_session(session.id, owner).metadata),
                progress=context.get("progress"), cancel_event=context.get("cancel_event"),
                credentials={k: context[k] for k in CREDENTIAL_KEYS if context.get(k)}, owner=owner)
            t = time.perf_counter()
            result = self.run_request(request, owner)
            if request.cancelled():  # stopped while it ran: keep nothing of it
                raise self._time_limit() if request.timed_out() else Cancelled("Stopped. Nothing was changed.")
            timings["route_ms"] = _ms(t)
        except ConsentRequired as exc:
            return self._ask_consent(session.id, owner, text, intent, exc, attachment_ids, base_meta, timings, started)
        except GatewayError as exc:
            return self._store_reply(session.id, owner, self._error_reply(session.id, exc), base_meta, timings, started,
                                     extra_actions=routing_actions(intent, text, attachment_ids, user_row.id))
        if result.session_updates:
            self.store.update_session(session.id, owner, metadata_updates=result.session_updates)
        response = self._format(session.id, owner, text, intent, refinement, result, attachment_ids, base_meta, timings,
                                started)
        self.results.remember(result, response, owner)
        return response

    def run_request(self, request: CapabilityRequest, owner: str) -> CapabilityResult:
        """Run one capability request (a single message or one step of a plan) through the result cache and the
        executor; a run stopped by its time limit says so."""
        try:
            return self.results.run(self.executor, request, owner)
        except Cancelled:
            if request.timed_out():
                raise self._time_limit() from None
            raise

    def _time_limit(self) -> TimeLimitExceeded:
        limit = self.settings.model_time_limit_s
        return TimeLimitExceeded(f"This took longer than the {limit:g} s one request may use the model, so I "
                                 "stopped it; nothing was changed.",
                                 suggestions=["Try a smaller image or a smaller factor."])

    def _load_stored(self, row) -> InputImage:
        img = load_image(row.path, max_bytes=2**40, max_pixels=self.settings.max_output_pixels)
        return InputImage(img.image, image_id=row.id, recipe=row.recipe or None, role="latest")

    def _check_consent(self, capability, session, owner, context, inputs, params) -> None:
        key = capability.requires_consent
        if not key:
            return
        if self.store.get_session(session.id, owner).metadata.get(key):
            return
        if context.get("consent") is True:
            self.store.update_session(session.id, owner, metadata_updates={key: True, f"{key}_at": time.time()})
            return
        question = capability.consent_question(inputs, params) if capability.consent_question else capability.consent_text
        raise ConsentRequired(question or "Please confirm you have the right to do this.",
                              consent_key=key, confirm_label=capability.consent_label)

    # ---- replies ---------------------------------------------------------------------------------------------
    def _format(self, session_id, owner, text, intent, refinement, result: CapabilityResult, attachment_ids,
                meta, timings, started) -> Response:
        t = time.perf_counter()
        new_images = []
        for out in result.images:
            recipe = {"capability": intent.name, "backend": result.backend, "model_id": result.model_id,
                      **out.recipe, "parent_ids": out.parent_ids}
            new_images.append(self._new_image(out.image, recipe, out.parent_ids, out.png_text))
        meta.update({"capability": intent.name, "backend": result.backend, "model_id": result.model_id,
                     **{k: v for k, v in result.metadata.items() if _jsonable(v)}})
        linked = list(getattr(result, "cached_image_ids", []) or [])  # a result-cache hit: stored images, no run
        message = result.message or ("Done." if result.images or linked else "")
        if meta["notes"]:
            notes = "; ".join(note.rstrip(" .") for note in meta["notes"])
            message = (message + "\n\n" if message else "") + "Note: " + notes + "."
        available = self.registry.available_names()
        actions = [a.to_dict() for a in result.actions]
        actions += routing_actions(intent, text, attachment_ids, meta["user_message_id"])
        generic = follow_ups(intent.name, available, bool(new_images or linked)) if result.type != CLARIFICATION else []
        suggestions = list(dict.fromkeys(result.suggestions + generic))[:4]
        response = Response(session_id=session_id, message_id=None, type=result.type, message=message,
                            prompt=refinement.prompt or None, negative_prompt=refinement.negative or None,
                            metadata=meta, actions=actions, suggestions=suggestions)
        timings["format_ms"] = _ms(t)
        return self._store_reply(session_id, owner, response, {}, timings, started, new_images=new_images,
                                 image_ids=linked)

    def _store_reply(self, session_id, owner, response: Response, meta, timings, started, new_images=(),
                     extra_actions=(), image_ids=()) -> Response:
        response.metadata = {**meta, **response.metadata}
        response.actions = list(response.actions) + list(extra_actions)
        self.chips.finalize(response, new_images, image_ids)
        t = time.perf_counter()
        response.metadata["timings_ms"] = dict(timings)
        row = self.store.add_message(session_id, owner, "assistant", response.message,
                                     metadata=response.metadata_for_store(), new_images=list(new_images),
                                     image_ids=list(image_ids))
        response.message_id = row.id
        response.images = [ResponseImage(id=img.id, path=str(img.path), width=img.width, height=img.height,
                                         mime=img.mime) for img in row.images]
        timings["store_ms"] = _ms(t)
        timings["total_ms"] = _ms(started)
        response.metadata["timings_ms"] = dict(timings)
        return response

    def _clarify(self, session_id, owner, text, intent: Intent, attachment_ids, meta, timings, started) -> Response:
        actions = [{"id": f"intent:{name}", "label": HUMAN_NAMES.get(name, name),
                    "message": text, "context": {"force_intent": name, "image_ids": attachment_ids}}
                   for name, _ in intent.candidates[:3]]
        response = Response(session_id=session_id, message_id=None, type=CLARIFICATION,
                            message="I'm not sure what you'd like me to do. Did you mean one of these?",
                            metadata=meta, actions=actions)
        return self._store_reply(session_id, owner, response, {}, timings, started)

    def _ask_consent(self, session_id, owner, text, intent, exc: ConsentRequired, attachment_ids, meta, timings, started):
        actions = [{"id": f"consent:{exc.consent_key}", "label": exc.confirm_label, "message": text,
                    "context": {"force_intent": intent.name, "consent": True, "image_ids": attachment_ids,
                                "params": {}}}]
        response = Response(session_id=session_id, message_id=None, type=CLARIFICATION, message=exc.message,
                            metadata={**meta, "needs_consent": exc.consent_key}, actions=actions,
                            error={"code": exc.code, "message": exc.message})
        return self._store_reply(session_id, owner, response, {}, timings, started)

    def _error_reply(self, session_id, exc: GatewayError, error_id: str | None = None) -> Response:
        error = exc.to_dict()
        if error_id:
            error["error_id"] = error_id
        return Response(session_id=session_id or "", message_id=None, type=ERROR, message=exc.message,
                        error=error, suggestions=list(exc.suggestions))

    def _new_image(self, image, recipe: dict, parent_ids, png_text: dict | None = None) -> NewImage:
        text = {"gateway_recipe": json.dumps(recipe, ensure_ascii=False, default=str), **(png_text or {})}
        if recipe.get("capability"):
            text.setdefault("Software", "AI image gateway")
        data = encode_png(image, text=text, compress_level=self.settings.png_compress_level)
        return NewImage(data=data, width=image.width, height=image.height, mime="image/png",
                        parent_ids=list(parent_ids), recipe=recipe)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def _public_context(context: dict) -> dict:
    return {k: v for k, v in context.items() if k in CONTEXT_KEYS and _jsonable(v)}

