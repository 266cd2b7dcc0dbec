"""File inputs of the API endpoints that answer malformed payloads with a coded reply instead of Gradio's
anonymous "upstream app raised an exception".

`gr.File` validates its payload inside Gradio, before the handler runs, so `images: 5` or a file object
without Gradio's `meta` marker fails with no code and no field name. `ApiFiles` moves that same validation
into `preprocess`, where a failure becomes an `InvalidFiles` value the handler turns into `invalid_input`
naming the field. Nothing else changes: the API schema is gr.File's own, and Gradio still checks every
file object that carries the marker — a path that was not uploaded is refused before any of our code runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from pydantic import ValidationError


@dataclass(frozen=True)
class InvalidFiles:
    """What a malformed file payload becomes; `field` is the endpoint input's label."""

    field: str
    problem: str

from gradio.events import Dependency

class ApiFiles(gr.File):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._payload_model = self.data_model
        self.data_model = None  # Gradio skips its own validation; preprocess() does it

    def api_info(self) -> dict:
        # Gradio asks for it on every API call (each call builds a fresh session's config): build it once.
        if self._api_info_cache is None:
            schema = self._payload_model.model_json_schema()
            schema["additional_description"] = schema.pop("description", None)
            self._api_info_cache = schema
        return self._api_info_cache

    def preprocess(self, payload):
        if payload is None:
            return None
        try:
            payload = self._payload_model.model_validate(payload, context={"validate_meta": True})
        except (ValidationError, TypeError, ValueError):
            expected = "a list of uploaded files" if self.file_count == "multiple" else "one uploaded file"
            return InvalidFiles(self.label or "file", f"must be {expected} (gradio_client.handle_file), or null")
        return super().preprocess(payload)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component