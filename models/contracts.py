"""The contract between the pipeline and every capability backend.

A `Capability` is a spec (name, description, images it needs, parameters it accepts) plus an ordered list
of `Backend`s. A backend reports its `status()` cheaply (no heavy import, no download), builds its model in
`load(device)` — heavy imports happen there — and turns a `CapabilityRequest` into a `CapabilityResult` in
`run(handle, request)`. The first backend whose status is `ready` serves a request; a capability with no
ready backend answers with the reasons and the fixes of all of them. Modelled on spandrel's explicit
architecture registry and rembg's session classes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

READY, DOWNLOADABLE, MISSING = "ready", "downloadable", "missing"


@dataclass(frozen=True)
class BackendStatus:
    state: str  # READY | DOWNLOADABLE | MISSING
    reason: str = ""  # why it is not ready (empty when ready)
    fix: str = ""  # the exact command or setting that makes it ready

    @property
    def ready(self) -> bool:
        return self.state == READY


def module_installed(module: str) -> bool:
    """Whether `module` can be imported, checked without importing it. Never `find_spec` alone: once cv2 is
    imported its `__spec__` is None and `find_spec("cv2")` raises ValueError (the help reply and the start-up
    report crashed on it, depending on whether something had imported cv2 first)."""
    import importlib.util
    import sys

    if sys.modules.get(module) is not None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_modules(*modules: str, fix: str = "pip install -r requirements.txt") -> BackendStatus | None:
    """A MISSING status naming the modules that are not installed (checked without importing them), else None."""
    missing = [m for m in modules if not module_installed(m)]
    if not missing:
        return None
    return BackendStatus(MISSING, f"the Python package(s) {', '.join(missing)} are not installed", fix)


@dataclass
class InputImage:
    """An image the capability works on, resolved by the pipeline (attachment or session reference)."""
    image: Any  # PIL.Image.Image, RGB or RGBA
    image_id: str | None = None  # sha256 id in the store (None for an attachment not stored yet)
    recipe: dict | None = None  # how it was made, when the gateway made it
    role: str = ""  # "attachment" | "latest" — where it came from


@dataclass
class CapabilityRequest:
    capability: str
    text: str  # the user's message as typed
    params: dict = field(default_factory=dict)  # normalised parameters (size, count, seed, operation…)
    images: list[InputImage] = field(default_factory=list)  # in order: attachments first, else the latest image
    mask: Any = None  # PIL "L" image, white = pixels to edit (object removal)
    prompt: str = ""  # refined prompt (generation, diffusion styles)
    negative_prompt: str = ""
    context: dict = field(default_factory=dict)  # caller context (consent, forced intent, ...)
    session_metadata: dict = field(default_factory=dict)  # read-only view of the session's stored metadata
    progress: Callable[[float, str], None] | None = None  # fraction in [0, 1], description
    cancel_event: threading.Event | None = None
    device: str = "cpu"
    # Per-request secrets from the front (e.g. the signed-in user's `hf_token`, the caller's ZeroGPU
    # `x_ip_token`): never stored, never in recipes; executors forward only what a backend or a worker needs.
    credentials: dict = field(default_factory=dict, repr=False)
    owner: str = ""  # the owner id (for fair model slots in the front; never sent to a worker)
    deadline: float | None = None  # time.monotonic() after which the run counts as cancelled (the time limit)

    def report(self, fraction: float, description: str = "") -> None:
        if self.progress is not None:
            self.progress(max(0.0, min(1.0, fraction)), description)

    def cancelled(self) -> bool:
        """Stop was pressed, or the run is past its time limit: a backend stops at its next check."""
        return (self.cancel_event is not None and self.cancel_event.is_set()) or self.timed_out()

    def timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


@dataclass
class OutputImage:
    image: Any  # PIL.Image.Image
    recipe: dict = field(default_factory=dict)  # JSON-serialisable: everything needed to make it again
    parent_ids: list[str] = field(default_factory=list)  # store ids of the inputs it was made from
    png_text: dict[str, str] = field(default_factory=dict)  # extra PNG text chunks (A1111 "parameters"…)


@dataclass
class Action:
    """A chip under a reply. Clicking it sends `message` with `context` as a new chat message."""
    id: str
    label: str
    message: str = ""
    context: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "message": self.message, "context": self.context}


@dataclass
class CapabilityResult:
    images: list[OutputImage] = field(default_factory=list)
    message: str = ""  # what to tell the user (which style was used, what was clamped…)
    backend: str = ""  # filled in by the registry when empty
    model_id: str | None = None
    metadata: dict = field(default_factory=dict)  # seed, steps, timings inside the backend, warnings…
    actions: list[Action] = field(default_factory=list)  # capability-specific chips (regenerate…)
    suggestions: list[str] = field(default_factory=list)
    session_updates: dict = field(default_factory=dict)  # merged into the session's metadata
    type: str = "image"  # "image" | "text" | "clarification"


class Backend:
    """Base class of a capability backend. Subclasses set the class attributes and override the methods."""

    name: ClassVar[str] = ""
    capability: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    description: ClassVar[str] = ""
    estimated_bytes: ClassVar[int] = 0  # resident size once loaded, for the cache budget
    embedded: ClassVar[bool] = False  # True when it needs no download (weights in a package or no weights)
    uses_model: ClassVar[bool] = True  # False for model-free work (text, Pillow edits): it never waits for a model slot

    def __init__(self, settings=None):
        self.settings = settings

    def status(self) -> BackendStatus:
        return BackendStatus(READY)

    def cache_key(self) -> str:
        """Entries with the same key share one loaded model (e.g. generation and diffusion styles)."""
        return f"{self.capability}/{self.name}"

    def load(self, device: str) -> Any:
        return None

    def run(self, handle: Any, request: CapabilityRequest) -> CapabilityResult:
        raise NotImplementedError

    def weight_files(self, device: str) -> list:
        """The Hub files (`models.hub.HubFiles`) this backend needs on `device`, known without asking the Hub:
        what the README's `preload_from_hub` lists and what a first-use download fetches. [] = none/unknown."""
        return []

    def download(self) -> str:
        """Fetch this backend's weights into the local cache (used by `python -m models.download`).

        Returns a one-line summary. Backends without downloadable weights keep this default."""
        return f"{self.capability}/{self.name}: nothing to download"

    def describe(self) -> dict:
        st = self.status()
        return {"name": self.name, "status": st.state, "reason": st.reason, "fix": st.fix,
                "licence": self.licence, "description": self.description, "embedded": self.embedded}


@dataclass
class Capability:
    name: str
    description: str
    examples: tuple[str, ...] = ()  # phrases shown in help
    min_images: int = 0
    max_images: int = 0
    needs_mask: bool = False
    params: tuple[str, ...] = ()  # parameter keys it accepts
    requires_consent: str | None = None  # session metadata key that must be true before it runs
    consent_text: str = ""
    consent_label: str = "I confirm"
    # Optional: the consent question for this very request, naming the images (inputs, params) -> str.
    consent_question: Callable[[list, dict], str] | None = None
    backends: list[Backend] = field(default_factory=list)
    planned: str = ""  # when no backend exists yet: what is coming
    # Capability-specific parameters parsed from the message text (e.g. which face, brush strength); merged
    # over the router's generic parameters. Pure Python, no heavy imports.
    parse_params: Callable[[str], dict] | None = None

    def describe(self) -> dict:
        backends = [b.describe() for b in self.backends]
        ready = any(b["status"] == READY for b in backends)
        return {"name": self.name, "description": self.description, "available": ready,
                "backends": backends, "examples": list(self.examples),
                "note": "" if backends else (self.planned or "not available yet")}
