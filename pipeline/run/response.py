"""The `Response` every chat message gets back (the seed's shape), for the UI and the API alike.

`type` is one of image | text | clarification | error. `data` holds the images (id = sha256, path, width,
height, mime), the refined prompt and the metadata ("what ran": intent, confidence, candidates, capability,
backend, model id, seed, per-step timings). `actions` are chips `{id, label, message, context}`: clicking one
sends `message` with `context` as a new chat message. `suggestions` are follow-up requests (plain text). An
error carries `error = {code, message, error_id?}`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

IMAGE, TEXT, CLARIFICATION, ERROR = "image", "text", "clarification", "error"


@dataclass
class ResponseImage:
    id: str
    path: str
    width: int
    height: int
    mime: str = "image/png"

    @property
    def sha256(self) -> str:
        return self.id


@dataclass
class Response:
    session_id: str
    message_id: int | None
    type: str
    message: str
    images: list[ResponseImage] = field(default_factory=list)
    prompt: str | None = None
    negative_prompt: str | None = None
    metadata: dict = field(default_factory=dict)
    actions: list[dict] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    error: dict | None = None

    def to_dict(self) -> dict:
        images = [dict(asdict(img), sha256=img.id) for img in self.images]
        return {
            "session_id": self.session_id,
            "message_id": self.message_id,
            "type": self.type,
            "message": self.message,
            "data": {"images": images, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                     "metadata": self.metadata},
            "actions": self.actions,
            "suggestions": self.suggestions,
            "error": self.error,
        }

    def metadata_for_store(self) -> dict:
        """What the assistant message row keeps so the history can be re-rendered after a restart."""
        return {"type": self.type, "actions": self.actions, "suggestions": self.suggestions,
                "error": self.error, "prompt": self.prompt, "negative_prompt": self.negative_prompt,
                **self.metadata}
