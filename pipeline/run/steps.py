"""`Steps`: running one step of a message — a single request, or one step of a plan — the same way.

A step is an intent with its own words. `refine` turns the words into a prompt, a negative prompt and clamped
parameters, `request` builds the `CapabilityRequest` with the turn's owner, credentials and session metadata; `run`
sends it through the result cache and the executor (never the registry directly) and turns a stop caused by the
time limit into a `time_limit` reply. `check_consent` asks (or records) the confirmation a capability needs,
`load_stored` decodes a stored image for a step that works on it.
"""

from __future__ import annotations

import time

from core.errors import Cancelled, ConsentRequired, TimeLimitExceeded
from core.images import load_image
from models.contracts import CapabilityRequest, CapabilityResult, InputImage
from pipeline.run.turn import Turn


class Steps:
    def __init__(self, settings, store, registry, refiner, results, executor):
        self.settings, self.store, self.registry, self.refiner = settings, store, registry, refiner
        self.results, self.executor = results, executor

    def refine(self, turn: Turn, intent, text: str):
        """(capability, refinement) of one step: its prompt, negative prompt and clamped parameters."""
        capability = self.registry.get(intent.name)
        with turn.timed("refine"):
            return capability, self.refiner.refine(text, intent)

    def request(self, turn: Turn, capability, refinement, text: str, images, mask=None,
                progress=None) -> CapabilityRequest:
        """The request of one step on `images`, with the turn's owner, credentials and session metadata."""
        return CapabilityRequest(
            capability=capability.name, text=text, params=dict(refinement.params), images=list(images), mask=mask,
            prompt=refinement.prompt, negative_prompt=refinement.negative, context=turn.public_context,
            session_metadata=dict(self.store.get_session(turn.session_id, turn.owner).metadata),
            progress=progress, cancel_event=turn.cancel_event, credentials=turn.credentials, owner=turn.owner)

    def run(self, request: CapabilityRequest) -> CapabilityResult:
        """The request's result, through the result cache and the executor."""
        try:
            return self.results.run(self.executor, request, request.owner)
        except Cancelled:
            if request.timed_out():
                raise self.time_limit() from None
            raise

    def time_limit(self) -> TimeLimitExceeded:
        limit = self.settings.model_time_limit_s
        return TimeLimitExceeded(f"This took longer than the {limit:g} s one request may use the model, so I "
                                 "stopped it; nothing was changed.",
                                 suggestions=["Try a smaller image or a smaller factor."])

    def check_consent(self, turn: Turn, capability, inputs, params) -> None:
        """Raise ConsentRequired unless the session already consented or this message says it does."""
        key = capability.requires_consent
        if not key:
            return
        if self.store.get_session(turn.session_id, turn.owner).metadata.get(key):
            return
        if turn.context.get("consent") is True:
            self.store.update_session(turn.session_id, turn.owner, metadata_updates={key: True, f"{key}_at": time.time()})
            return
        question = capability.consent_question(inputs, params) if capability.consent_question else capability.consent_text
        raise ConsentRequired(question or "Please confirm you have the right to do this.",
                              consent_key=key, confirm_label=capability.consent_label)

    def load_stored(self, row) -> InputImage:
        img = load_image(row.path, max_bytes=2**40, max_pixels=self.settings.max_output_pixels)
        return InputImage(img.image, image_id=row.id, recipe=row.recipe or None, role="latest")
