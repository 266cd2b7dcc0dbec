"""File inputs of the API endpoints that answer malformed payloads with a coded reply instead of Gradio's
anonymous "upstream app raised an exception".

`gr.File` validates its payload inside Gradio, before the handler runs, so `images: 5` or a file object
without Gradio's `meta` marker fails with no code and no field name. `api_files()` moves that same validation
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


def api_files(label: str, file_count: str) -> gr.File:
    """A `gr.File` input (paths) for an API endpoint whose malformed payloads reach the handler as `InvalidFiles`.

    The instance is adjusted rather than subclassed: a gr.File subclass makes Gradio write a `.pyi` copy of
    this module next to it on every import."""
    component = gr.File(label=label, file_count=file_count, type="filepath")
    payload_model = component.data_model
    schema = payload_model.model_json_schema()
    schema["additional_description"] = schema.pop("description", None)
    gradio_preprocess = component.preprocess
    expected = "a list of uploaded files" if file_count == "multiple" else "one uploaded file"

    def preprocess(payload):
        if payload is None:
            return None
        try:
            payload = payload_model.model_validate(payload, context={"validate_meta": True})
        except (ValidationError, TypeError, ValueError):
            return InvalidFiles(label, f"must be {expected} (gradio_client.handle_file), or null")
        return gradio_preprocess(payload)

    component.data_model = None  # Gradio skips its own validation; preprocess() does it
    component.preprocess = preprocess
    component.api_info = lambda: schema  # gr.File's own schema, built once (Gradio asks on every call)
    return component
