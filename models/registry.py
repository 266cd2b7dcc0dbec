"""The explicit list of capabilities, and running a request on the first ready backend.

Each capability lives in its own package `models/<name>/` whose `__init__` defines
`capability(settings) -> Capability` without importing anything heavy. `CAPABILITY_MODULES` below is the
whole list: adding a capability means adding a package and one line here. A duplicate or unknown name
raises. `Registry.run` picks the first backend whose status is ready, loads it through the model cache
(shared by key, pinned while it runs, one OOM retry) and stamps the backend name on the result.
"""

from __future__ import annotations

import importlib
import time

from core.errors import CapabilityUnavailable
from core.vocabulary import CAPABILITY_NOUNS, INTENTS, unavailable_sentence
from models.cache import ModelCache
from models.hub import download_policy, downloads_allowed, hub_unreachable, reporting_to
from models.contracts import DOWNLOADABLE, READY, Backend, Capability, CapabilityRequest, CapabilityResult

CAPABILITY_MODULES = (
    "models.image_generation",
    "models.face_swap",
    "models.background_removal",
    "models.object_removal",
    "models.style_transfer",
    "models.upscale",
    "models.image_edit",
    "models.chat",
)


class Registry:
    def __init__(self, cache: ModelCache, device: str = "cpu"):
        self.cache = cache
        self.device = device
        self._capabilities: dict[str, Capability] = {}
        self._described: tuple[float, list[dict]] | None = None

    def add(self, capability: Capability) -> None:
        if capability.name not in INTENTS:
            raise ValueError(f"unknown capability name {capability.name!r}; the vocabulary is {INTENTS}")
        if capability.name in self._capabilities:
            raise ValueError(f"capability {capability.name!r} is registered twice")
        names = [b.name for b in capability.backends]
        if len(names) != len(set(names)):
            raise ValueError(f"capability {capability.name!r} has two backends with the same name: {names}")
        self._capabilities[capability.name] = capability

    def get(self, name: str) -> Capability:
        try:
            return self._capabilities[name]
        except KeyError:
            raise ValueError(f"unknown capability {name!r}") from None

    def names(self) -> list[str]:
        return list(self._capabilities)

    def __iter__(self):
        return iter(self._capabilities.values())

    def describe(self, max_age_s: float = 0.0) -> list[dict]:
        """Every capability with its backends' status; `max_age_s` > 0 may answer from a recent listing
        (asking every backend checks files on disk, which costs milliseconds per message)."""
        now = time.monotonic()
        if max_age_s > 0 and self._described is not None and now - self._described[0] <= max_age_s:
            return self._described[1]
        listing = [c.describe() for c in self._capabilities.values()]
        self._described = (now, listing)
        return listing

    def available_names(self, max_age_s: float = 30.0) -> set[str]:
        return {c["name"] for c in self.describe(max_age_s) if c["available"]}

    def ready_backend(self, name: str) -> Backend:
        capability = self.get(name)
        problems, fixes = [], []
        for backend in capability.backends:
            status = backend.status()
            if status.state == READY or (status.state == DOWNLOADABLE and _downloads_allowed(backend)):
                return backend
            why_not = (f"; not downloaded now: {download_policy(backend.settings, probe=False)[1]}"
                       if status.state == DOWNLOADABLE and backend.settings is not None else "")
            fix = f" (fix: {status.fix})" if status.fix else ""
            problems.append(f"{backend.name}: {status.reason}{why_not}{fix}")
            if status.fix:
                fixes.append(status.fix)
        if not capability.backends:
            raise CapabilityUnavailable(
                f"{_human(name)} is not available yet: {capability.planned or 'no backend is installed in this version.'}",
                details={"capability": name})
        # The message is one sentence for the creator; why and the exact fix are for whoever runs the server, so
        # they go in the details (the UI shows them folded, "for the operator"), never in the suggestions (which
        # the UI turns into clickable messages).
        raise CapabilityUnavailable(_hub_down_sentence(name, capability) or unavailable_sentence(name),
                                    details={"capability": name, "operator": "; ".join(problems),
                                             "reasons": problems, "fixes": list(dict.fromkeys(fixes))})

    def run(self, request: CapabilityRequest, backend: Backend | None = None) -> CapabilityResult:
        backend = backend or self.ready_backend(request.capability)
        started = time.perf_counter()
        request.device = self.device
        with reporting_to(request.report, request.cancelled):  # a first-use download reports into this reply
            result = self.cache.run(backend.cache_key(), lambda: backend.load(self.device),
                                    lambda handle: backend.run(handle, request), backend.estimated_bytes)
        result.backend = result.backend or backend.name
        result.metadata.setdefault("backend_seconds", round(time.perf_counter() - started, 4))
        result.metadata.setdefault("licence", backend.licence)
        return result


def build_registry(settings, cache: ModelCache, device: str = "cpu", modules=CAPABILITY_MODULES) -> Registry:
    registry = Registry(cache, device)
    for module_name in modules:
        module = importlib.import_module(module_name)
        capability = module.capability(settings)
        if hasattr(capability, "attach_registry"):
            capability.attach_registry(registry)
        for backend in capability.backends:
            if hasattr(backend, "attach_registry"):
                backend.attach_registry(registry)
        registry.add(capability)
    missing = set(INTENTS) - set(registry.names())
    if missing:
        raise ValueError(f"capabilities without a module: {sorted(missing)}")
    return registry


def _downloads_allowed(backend: Backend) -> bool:
    return downloads_allowed(backend.settings) if backend.settings is not None else False


def _hub_down_sentence(name: str, capability: Capability) -> str | None:
    """When what stops the capability is only that its weights must be downloaded and the Hub does not answer right
    now, say that (it is temporary: a later request downloads once the Hub is back), not "isn't set up"."""
    if not any(b.status().state == DOWNLOADABLE and b.settings is not None and hub_unreachable(b.settings)
               for b in capability.backends):
        return None
    noun = CAPABILITY_NOUNS.get(name, _human(name))
    return (f"{noun} needs its model downloaded first, and the model hub can't be reached from this server right "
            "now. Please try again in a few minutes.")


def _human(name: str) -> str:
    return name.replace("_", " ").capitalize()
