"""The wire format of a capability run, shared by the Ray and the remote executors.

A request or a result becomes a JSON-ready header (a dict) plus a list of PNG blobs the header points at by
index; errors become a header with an `error` entry that `raise_error` turns back into the same typed
`GatewayError`. PNG is lossless and keeps the mode (RGB, RGBA, L…), so a run executed elsewhere gives the
pixels the local executor would. Progress callbacks, cancel events and the device never travel: the executor
on each side supplies its own. Credentials travel only when the caller asks for them (`credentials=`).
"""

from __future__ import annotations

import io
import json

from core import errors as core_errors
from core.errors import CapabilityUnavailable, GatewayError
from core.jsonable import jsonable_only
from models.contracts import Action, CapabilityRequest, CapabilityResult, InputImage, OutputImage

WIRE_VERSION = 1
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}


class ExecutorUnavailable(CapabilityUnavailable):
    """No place to run the request: Ray failed twice, no remote worker answers and fallback is off…"""
    code = "executor_unavailable"


class WireError(GatewayError):
    """A worker or replica sent something this front cannot read (version mismatch, broken payload)."""
    code = "executor_protocol"


# ---- images ---------------------------------------------------------------------------------------------------
def image_to_png(image) -> bytes:
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_to_image(data: bytes):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a protocol problem
        raise WireError(f"An image sent by the executor could not be read ({exc}).") from None
    return image


# ---- requests -------------------------------------------------------------------------------------------------
def encode_request(request: CapabilityRequest, *, run_id: str = "", credentials=()) -> tuple[dict, list[bytes]]:
    """(header, blobs) for `request`; `credentials` names the credential keys to send along."""
    blobs: list[bytes] = []

    def blob(image) -> int:
        blobs.append(image_to_png(image))
        return len(blobs) - 1

    header = {
        "wire": WIRE_VERSION, "run_id": run_id, "capability": request.capability, "text": request.text,
        "params": request.params, "prompt": request.prompt, "negative_prompt": request.negative_prompt,
        "context": request.context, "session_metadata": request.session_metadata,
        "images": [{"blob": blob(i.image), "image_id": i.image_id, "recipe": i.recipe, "role": i.role}
                   for i in request.images],
        "mask": blob(request.mask) if request.mask is not None else None,
        "credentials": {k: request.credentials[k] for k in credentials if request.credentials.get(k)},
    }
    _check_json(header, "request")
    return header, blobs


def decode_request(header: dict, blobs: list[bytes], *, progress=None, cancel_event=None) -> CapabilityRequest:
    _check_version(header)
    images = [InputImage(png_to_image(blobs[i["blob"]]), image_id=i.get("image_id"), recipe=i.get("recipe"),
                         role=i.get("role", "")) for i in header.get("images", [])]
    mask = header.get("mask")
    return CapabilityRequest(
        capability=header["capability"], text=header.get("text", ""), params=dict(header.get("params") or {}),
        images=images, mask=png_to_image(blobs[mask]) if mask is not None else None,
        prompt=header.get("prompt", ""), negative_prompt=header.get("negative_prompt", ""),
        context=dict(header.get("context") or {}), session_metadata=dict(header.get("session_metadata") or {}),
        progress=progress, cancel_event=cancel_event, credentials=dict(header.get("credentials") or {}))


# ---- results ---------------------------------------------------------------------------------------------------
def encode_result(result: CapabilityResult) -> tuple[dict, list[bytes]]:
    blobs = [image_to_png(out.image) for out in result.images]
    header = {
        "wire": WIRE_VERSION, "type": result.type, "message": result.message, "backend": result.backend,
        "model_id": result.model_id, "metadata": jsonable_only(result.metadata),
        "images": [{"blob": i, "recipe": out.recipe, "parent_ids": out.parent_ids, "png_text": out.png_text}
                   for i, out in enumerate(result.images)],
        "actions": [a.to_dict() for a in result.actions], "suggestions": list(result.suggestions),
        "session_updates": result.session_updates,
    }
    _check_json(header, "result")
    return header, blobs


def decode_result(header: dict, blobs: list[bytes]) -> CapabilityResult:
    if "error" in header:
        raise_error(header)
    _check_version(header)
    images = [OutputImage(png_to_image(blobs[i["blob"]]), recipe=dict(i.get("recipe") or {}),
                          parent_ids=list(i.get("parent_ids") or []), png_text=dict(i.get("png_text") or {}))
              for i in header.get("images", [])]
    return CapabilityResult(
        images=images, message=header.get("message", ""), backend=header.get("backend", ""),
        model_id=header.get("model_id"), metadata=dict(header.get("metadata") or {}),
        actions=[Action(**a) for a in header.get("actions", [])], suggestions=list(header.get("suggestions", [])),
        session_updates=dict(header.get("session_updates") or {}), type=header.get("type", "image"))


# ---- errors ----------------------------------------------------------------------------------------------------
def encode_error(exc: BaseException, *, error_id: str = "") -> dict:
    """The header of a failed run: a `GatewayError` keeps its code, message, suggestions and details."""
    if isinstance(exc, GatewayError):
        return {"wire": WIRE_VERSION, "error": {"code": exc.code, "message": exc.message,
                                                "suggestions": exc.suggestions, "details": jsonable_only(exc.details)}}
    return {"wire": WIRE_VERSION, "error": {
        "code": "worker_error", "suggestions": [], "details": {"error_id": error_id} if error_id else {},
        "message": "The machine that ran this failed unexpectedly" + (f" (error id {error_id})" if error_id else "")
                   + "; nothing was saved. Please try again."}}


def raise_error(header: dict):
    error = header["error"]
    cls = _error_classes().get(error.get("code"), GatewayError)
    exc = cls.__new__(cls)
    GatewayError.__init__(exc, error.get("message", "The run failed."), suggestions=error.get("suggestions"),
                          details=error.get("details"))
    if cls is GatewayError and error.get("code"):
        exc.code = error["code"]  # an unknown code (a newer worker) is kept as it was sent
    raise exc


def _error_classes() -> dict[str, type]:
    found, todo = {}, [GatewayError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


# ---- helpers ---------------------------------------------------------------------------------------------------
def _check_version(header: dict) -> None:
    if header.get("wire") != WIRE_VERSION:
        raise WireError(f"The executor speaks wire version {header.get('wire')!r}; this gateway speaks "
                        f"{WIRE_VERSION}. Run the same gateway version on the front and the workers.")


def _check_json(header: dict, what: str) -> None:
    try:
        json.dumps(header)
    except (TypeError, ValueError) as exc:
        raise core_errors.InvalidInput(f"This {what} cannot be sent to another machine: {exc}.") from None
