"""`Pipeline.process_message`: one chat message through validate → store → understand → run → reply.

The caller (UI or API) passes the text, the session id ("" for a new session), the attached images (paths,
bytes or PIL images) and a context dict: `owner` (an owner id from pipeline.boundary.identity, required), and
optionally `mask`, `force_intent`, `params`, `image_ids` (stored images to use as attachments — chips use
this to re-run a message), `consent`, `correction_of`, `progress`, `cancel_event`, and `on_session` (called
with the id of the session a first message creates, as soon as it is stored). Input that cannot be accepted (a
value of the wrong type — see pipeline.boundary.schema —, giant text, broken image, unknown session) is answered
without writing anything; the decoded inputs hold their share of the shared decode budget until the reply. Once
accepted, the user message (with its session, when it is the first) and then the reply are stored, each in one
transaction; the router's plan runs as one step (here) or several (`run/plans.py`), both through `Steps` and
`Replies`. Whatever fails after the user message is stored still stores an error reply, so no message is left
unanswered. Expected problems are `GatewayError`s and become ordinary replies; anything else is logged with a
traceback and answered with an error id, and the server keeps serving.
"""

from __future__ import annotations

import logging
import uuid

from core.errors import Cancelled, ConsentRequired, GatewayError, InvalidInput
from core.images import DecodeBudget
from pipeline.boundary import schema
from pipeline.run.inputs import Inputs
from pipeline.run.plans import plan_for, run_plan
from pipeline.run.recovery import retry_action
from pipeline.run.references import resolve_inputs
from pipeline.run.replies import Replies
from pipeline.run.response import Response
from pipeline.run.result_cache import ResultCache
from pipeline.run.steps import Steps
from pipeline.run.suggest import ChipPolicy, routing_actions
from pipeline.run.targets import resolve_pronoun_targets
from pipeline.run.titles import session_title  # the live chat names the sessions it opens with it too
from pipeline.run.turn import Turn, elapsed_ms
from pipeline.understand.classify import ClassifyContext

log = logging.getLogger(__name__)

CONTEXT_KEYS = schema.CONTEXT_KEYS  # accepted from API callers


class Pipeline:
    def __init__(self, settings, store, registry, router, refiner, executor=None):
        from pipeline.executors import LocalExecutor

        self.settings, self.store, self.registry, self.router, self.refiner = settings, store, registry, router, refiner
        self.executor = executor or LocalExecutor(registry, model_slots=settings.concurrency_limit,
                                                  time_limit_s=settings.model_time_limit_s)
        self.results = ResultCache(store, registry, settings)
        self.chips = ChipPolicy(registry, router)
        self.inputs = Inputs(settings, store)
        self.replies = Replies(settings, store, registry, self.chips)
        # Decoded images of all requests share one byte budget (the browser's and the API's alike).
        self.decode_budget = DecodeBudget(settings.decode_budget_mb * 2**20)

    @property
    def steps(self) -> Steps:
        """The step runner (built on use: tests and benches swap the executor after construction)."""
        return Steps(self.settings, self.store, self.registry, self.refiner, self.results, self.executor)

    # ---- entry point -----------------------------------------------------------------------------------
    def process_message(self, message: str, session_id: str | None, images=(), context: dict | None = None) -> Response:
        context = dict(context or {})
        try:
            session_id = schema.check_id_text(session_id, "session_id")
        except GatewayError as exc:
            return Replies.error("", exc)
        try:
            if not context.get("owner"):
                raise InvalidInput("No owner given for this request.")
            text = schema.check_message(message, self.settings.max_prompt_chars).strip()
            context.update(schema.check_context({k: v for k, v in context.items() if k in CONTEXT_KEYS}))
            turn = Turn(owner=context["owner"], text=text, context=context, title=session_title(text, images))
            turn.session = self.store.get_session(session_id, turn.owner) if session_id else None
            self.inputs.check_correction(turn.session, turn.owner, context.get("correction_of"))
            uploads, cost = self.inputs.read(images, turn.owner, turn.session, context)
            with self.decode_budget.hold(cost, "this message's images"):
                turn.attachments, turn.notes, turn.mask = self.inputs.decode(uploads, turn.owner, context)
                turn.timings["validate_ms"] = elapsed_ms(turn.started)
                return self._accepted(turn)
        except GatewayError as exc:
            return Replies.error(session_id, exc)

    def _accepted(self, turn: Turn) -> Response:
        try:
            self._store_user_message(turn)
            return self._understood(turn)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the log has the traceback
            return self._failed(turn, exc)

    def _failed(self, turn: Turn, exc: Exception) -> Response:
        """The reply to a request that failed after validation; stored when its user message was."""
        if isinstance(exc, GatewayError):
            reply = Replies.error(turn.session_id, exc)
        else:
            error_id = uuid.uuid4().hex[:12]
            log.exception("error %s while processing a message in session %s", error_id, turn.session_id)
            reply = Replies.error(turn.session_id, GatewayError(
                f"Something went wrong on our side (error id {error_id}). Your message was not lost; please try again."),
                error_id=error_id)
        if not turn.stored:
            return reply  # nothing was written
        reply.actions = [retry_action(turn.text, turn.image_ids, turn.public_context)]
        try:
            return self.replies.save(turn, reply, meta={"user_message_id": turn.user_message_id})
        except Exception:  # noqa: BLE001 - e.g. the session was deleted meanwhile; start-up repair covers the rest
            log.exception("could not store the error reply to message %s", turn.user_message_id)
            return reply

    # ---- storing the message, understanding it ------------------------------------------------------------
    def _store_user_message(self, turn: Turn) -> None:
        """The message with its attachments (so chips can re-run it and "it" can refer to them), and its session
        when it is the first."""
        turn.latest = self.store.latest_image(turn.session.id, turn.owner) if turn.session is not None else None
        new_images = []
        for inp in turn.attachments:
            if inp.image_id is None:
                new_images.append(self.replies.new_image(inp.image, {"source": "upload"}, []))
                inp.image_id = new_images[-1].id
        stored_ids = list(turn.context.get("image_ids") or [])
        meta = {"context": turn.public_context, "notes": turn.notes}
        if turn.session is None:  # a session is created only together with its first message
            turn.session, row = self.store.start_session(turn.owner, "user", turn.text, title=turn.title, metadata=meta,
                                                         image_ids=stored_ids, new_images=new_images)
            if callable(turn.context.get("on_session")):  # the browser's draft chat becomes this session now
                turn.context["on_session"](turn.session.id)
        else:
            row = self.store.add_message(turn.session.id, turn.owner, "user", turn.text, metadata=meta,
                                         image_ids=stored_ids, new_images=new_images)
        turn.user_message_id, turn.image_ids = row.id, [img.id for img in row.images]

    def _understood(self, turn: Turn) -> Response:
        context = turn.context
        with turn.timed("classify"):
            at_hand = ClassifyContext(n_images=len(turn.attachments), has_latest_image=turn.latest is not None,
                                      has_mask=turn.mask is not None)
            plan = plan_for(self.router, turn.text, at_hand, forced_intent=context.get("force_intent"))
            notes = turn.notes + resolve_pronoun_targets(plan, self.store, turn.session_id, turn.owner,
                                                         turn.mask is not None)
            intent = plan.steps[0].intent
            intent.params.update(context.get("params") or {})
        if context.get("correction_of"):
            self.store.record_correction(turn.session_id, turn.owner, context["correction_of"], turn.text,
                                         context.get("corrected_from", ""), intent.name)
        turn.meta = {"intent": intent.name, "confidence": round(intent.confidence, 3),
                     "candidates": [[n, round(p, 3)] for n, p in intent.candidates[:3]], "router": intent.source,
                     "notes": list(notes), "user_message_id": turn.user_message_id,
                     "inputs_at_hand": {"attachments": turn.attachment_ids,
                                        "latest": turn.latest.id if turn.latest else None}}
        if plan.compound:
            return run_plan(self, plan, turn)
        if intent.ambiguous and not context.get("force_intent"):
            return self.replies.clarify(turn, intent)
        return self._single(turn, intent)

    def _single(self, turn: Turn, intent) -> Response:
        """A message that is one step: its capability on its inputs, then the reply."""
        steps = self.steps
        try:
            capability, refinement = steps.refine(turn, intent, turn.text)
            turn.meta["notes"] += refinement.notes
            inputs = resolve_inputs(turn.attachments, turn.latest, capability, steps.load_stored)
            steps.check_consent(turn, capability, inputs, refinement.params)
            request = steps.request(turn, capability, refinement, turn.text, inputs, turn.mask, turn.progress)
            with turn.timed("route"):
                result = steps.run(request)
                if request.cancelled():  # stopped while it ran: keep nothing of it
                    raise steps.time_limit() if request.timed_out() else Cancelled("Stopped. Nothing was changed.")
        except ConsentRequired as exc:
            return self.replies.ask_consent(turn, exc, {"force_intent": intent.name, "params": {}})
        except GatewayError as exc:
            return self.replies.save(turn, Replies.error(turn.session_id, exc),
                                      extra_actions=routing_actions(intent, turn.text, turn.attachment_ids,
                                                                    turn.user_message_id))
        if result.session_updates:
            self.store.update_session(turn.session_id, turn.owner, metadata_updates=result.session_updates)
        response = self.replies.result(turn, intent, refinement, result)
        self.results.remember(result, response, turn.owner)
        return response
