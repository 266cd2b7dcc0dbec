"""Typed errors with stable codes and user-facing messages.

Expected situations (no image attached, unreadable file, no face found, model not installed…) raise a
subclass of `GatewayError`; the pipeline turns them into an ordinary reply (type "error" or
"clarification") carrying `code`, `message` and `suggestions`. Anything else is a bug: the pipeline logs it
with a traceback and answers with a generic error reply that carries an error id.
"""

from __future__ import annotations


class GatewayError(Exception):
    code = "gateway_error"
    http_status = 400

    def __init__(self, message: str, *, suggestions: list[str] | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.suggestions = list(suggestions or [])
        self.details = dict(details or {})

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "suggestions": self.suggestions, **self.details}


class InvalidInput(GatewayError):
    """The request itself is wrong: empty or giant message, bad parameter."""
    code = "invalid_input"


class InvalidImage(GatewayError):
    """An attached file is not a usable image (corrupt, empty, wrong type, too large)."""
    code = "invalid_image"


class ImageTooLarge(InvalidImage):
    code = "image_too_large"


class MissingInput(GatewayError):
    """The capability needs something the user has not given (an image, a mask, a second face…)."""
    code = "missing_input"


class NotFound(GatewayError):
    """Unknown session or image, or one that belongs to somebody else (deliberately the same answer)."""
    code = "not_found"
    http_status = 404


class Unauthorized(GatewayError):
    code = "unauthorized"
    http_status = 401


class CapabilityUnavailable(GatewayError):
    """No backend of the capability can run here; the message says what is missing and how to enable it."""
    code = "capability_unavailable"
    http_status = 503


class ModelLoadError(GatewayError):
    code = "model_load_failed"
    http_status = 503


class DownloadFailed(ModelLoadError):
    """Fetching weights from the Hub failed (network, disk space); nothing half-downloaded is ever used."""
    code = "download_failed"


class OutOfMemory(GatewayError):
    """Out of (GPU) memory even after evicting cached models and retrying once."""
    code = "out_of_memory"
    http_status = 503


class ServerBusy(GatewayError):
    """Too many model runs are already waiting; the request was not queued."""
    code = "busy"
    http_status = 503


class Cancelled(GatewayError):
    code = "cancelled"


class RateLimited(GatewayError):
    """Too many lookups that found nothing from one client: it waits a little before the next."""
    code = "rate_limited"


class TimeLimitExceeded(GatewayError):
    """A run used its model slot longer than GATEWAY_MODEL_TIME_LIMIT_S and was stopped."""
    code = "time_limit"


class Interrupted(GatewayError):
    """The request was cut off (the server stopped mid-run); it can simply be sent again."""
    code = "interrupted"


class NothingFound(GatewayError):
    """The capability ran but found nothing to work on (no face, empty mask…)."""
    code = "nothing_found"


class ConsentRequired(GatewayError):
    """The capability needs the user's confirmation first (face swap)."""
    code = "consent_required"

    def __init__(self, message: str, *, consent_key: str, confirm_label: str, **kwargs):
        super().__init__(message, **kwargs)
        self.consent_key = consent_key
        self.confirm_label = confirm_label
