"""Cache-first capability runs: the same request on the same image returns the stored result at once.

Before a capability runs, `ResultCache.run(executor, request, owner)` computes a content key — the input images'
sha256 ids (and the painted mask's), the capability, the backend that would run it (its name, class and model
cache key), the settings that choose models and how they run (hub ids with their revision, weight files with
their size and date), the resolved parameters, the prompt and negative prompt, the seed and the words of the
request — and looks it up in the `result_cache` table (store migration 3). A hit returns a `CachedResult`: the
stored message, metadata and actions, and the ids of the stored images, which the pipeline links to a new
message instead of running the model; its metadata says `cache_hit: true`. After a miss, `remember()` keys the
stored reply once the pipeline has written it.

Never cached: "regenerate"/"again"/variation requests; stochastic runs without a seed the user fixed (image
generation always, any run whose result reports a seed the request did not set); replies without images.
Entries are per owner (the owner is part of the primary key), and a hit is served only while every image is
still readable by that owner in the store, so a deleted conversation's images are never brought back and
nothing of another owner's is ever revealed. Changing the backend, its model setting or weights file, or the
backend's code changes the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import NotFound
from core.jsonable import jsonable as _jsonable
from models.contracts import Action, CapabilityRequest, CapabilityResult

log = logging.getLogger(__name__)

KEY_FORMAT = 1
BACKEND_MEMO_S = 1.0
STOCHASTIC = {"image_generation"}  # a run is only repeatable with the seed the user fixed
_REGENERATE = re.compile(r"\b(?:regenerat\w*|re-?roll\w*|re-?do|retry|again|another|variations?|variants?|"
                         r"different (?:one|version|seed))\b", re.I)
_REGENERATE_MODES = {"regenerate", "regenerate_exact", "variation"}
# Settings that cannot change what a capability computes (network, limits of the chat, the router, secrets).
_IRRELEVANT_SETTINGS = re.compile(r"^(?:host|port|owner_secret|auth|queue_max_size|request_concurrency|"
                                  r"concurrency_limit|log_level|history_page_size|data_dir|max_upload_bytes|"
                                  r"max_prompt_chars|max_images_per_message|router_\w+|result_cache\w*|"
                                  r"cache_budget_gb|allow_downloads)$")


@dataclass
class CachedResult(CapabilityResult):
    """A stored result: `cached_image_ids` are linked to the new message, nothing is computed."""
    cached_image_ids: list[str] = field(default_factory=list)
    key: str = ""


class ResultCache:
    def __init__(self, store, registry, settings=None, enabled: bool = True):
        self.store = store
        self.registry = registry
        self.settings = settings
        self.enabled = enabled and store is not None
        self._settings_digest: str | None = None
        self._backends: dict[str, tuple[float, object]] = {}

    # ---- the run -----------------------------------------------------------------------------------------
    def run(self, executor, request: CapabilityRequest, owner: str) -> CapabilityResult:
        """The stored result for this request, or the executor's fresh one (marked for `remember`)."""
        key = self.key(request, owner, executor) if self.enabled else None
        if key is not None:
            started = time.perf_counter()
            hit = self.lookup(key, owner)
            if hit is not None:
                hit.metadata["cache_lookup_ms"] = round((time.perf_counter() - started) * 1000, 3)
                return hit
        result = executor.run(request)
        if key is not None and self._storable(request, result):
            result.cache_key = key  # read back by remember(); not part of the reply
        result.metadata["cache_hit"] = False
        return result

    def remember(self, result: CapabilityResult, response, owner: str) -> bool:
        """Keep a fresh result under its key once its reply (with the images) is stored."""
        if getattr(response, "type", "") == "error":
            return False
        capability = (getattr(response, "metadata", None) or {}).get("capability", "")
        return self.remember_ids(result, [image.id for image in getattr(response, "images", [])], owner, capability)

    def remember_ids(self, result: CapabilityResult, image_ids: list[str], owner: str, capability: str) -> bool:
        """Keep a fresh result whose images are stored (or about to be, in the same reply) as `image_ids`."""
        key = getattr(result, "cache_key", None)
        if not key or not image_ids or isinstance(result, CachedResult):
            return False
        payload = {"message": result.message, "type": result.type,
                   "metadata": {k: v for k, v in result.metadata.items() if k != "cache_hit" and _jsonable(v)},
                   "actions": [a.to_dict() for a in result.actions], "suggestions": list(result.suggestions)}
        with self.store.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO result_cache (owner, key, capability, backend, model_id, image_ids, result, "
                "created_at, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (owner, key, capability, result.backend or "", result.model_id, json.dumps(list(image_ids)),
                 json.dumps(payload, ensure_ascii=False, default=str), time.time()))
        return True

    # ---- lookups -----------------------------------------------------------------------------------------
    def lookup(self, key: str, owner: str) -> CachedResult | None:
        row = self.store.db.connection().execute(
            "SELECT * FROM result_cache WHERE owner = ? AND key = ?", (owner, key)).fetchone()
        if row is None:
            return None
        image_ids = json.loads(row["image_ids"])
        try:
            for image_id in image_ids:  # still stored, still this owner's (a deleted chat takes them away)
                self.store.get_image(image_id, owner)
        except NotFound:
            self.forget(key, owner)
            return None
        payload = json.loads(row["result"])
        with self.store.db.transaction() as conn:
            conn.execute("UPDATE result_cache SET hits = hits + 1, last_hit_at = ? WHERE owner = ? AND key = ?",
                         (time.time(), owner, key))
        metadata = {**payload.get("metadata", {}), "cache_hit": True, "cached_at": row["created_at"]}
        actions = [Action(a["id"], a["label"], a.get("message", ""), a.get("context", {}))
                   for a in payload.get("actions", [])]
        return CachedResult(images=[], message=payload.get("message", ""), backend=row["backend"],
                            model_id=row["model_id"], metadata=metadata, actions=actions,
                            suggestions=list(payload.get("suggestions", [])), type=payload.get("type", "image"),
                            cached_image_ids=image_ids, key=key)

    def forget(self, key: str, owner: str) -> None:
        with self.store.db.transaction() as conn:
            conn.execute("DELETE FROM result_cache WHERE owner = ? AND key = ?", (owner, key))

    def stats(self, owner: str) -> dict:
        row = self.store.db.connection().execute(
            "SELECT COUNT(*) AS entries, COALESCE(SUM(hits), 0) AS hits FROM result_cache WHERE owner = ?",
            (owner,)).fetchone()
        return {"entries": row["entries"], "hits": row["hits"]}

    # ---- keys --------------------------------------------------------------------------------------------
    def cacheable(self, request: CapabilityRequest) -> bool:
        params = request.params or {}
        if params.get("mode") in _REGENERATE_MODES or _REGENERATE.search(request.text or ""):
            return False
        if request.context.get("no_cache") or request.context.get("regenerate"):
            return False
        return request.capability not in STOCHASTIC or params.get("seed") is not None

    def key(self, request: CapabilityRequest, owner: str, executor=None) -> str | None:
        """The content key of this request, or None when it must run (see the module docstring)."""
        if not self.cacheable(request):
            return None
        backend = self._backend(request.capability, executor)
        if backend is None:
            return None
        images = [image.image_id or _pixels_digest(image.image) for image in request.images]
        parts = {
            "format": KEY_FORMAT, "owner": owner, "capability": request.capability,
            "backend": [getattr(backend, "name", ""), f"{type(backend).__module__}.{type(backend).__qualname__}",
                        _safe(backend.cache_key), _module_stamp(type(backend))],
            "settings": self._settings_fingerprint(), "images": images,
            "mask": _pixels_digest(request.mask) if request.mask is not None else None,
            "params": request.params, "prompt": request.prompt, "negative": request.negative_prompt,
            "seed": (request.params or {}).get("seed"), "text": " ".join((request.text or "").lower().split()),
        }
        blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _backend(self, capability: str, executor):
        """The backend the executor would run (an executor may say so itself), else the registry's first ready.
        The registry's answer is reused for a second: its status checks cost more than the whole lookup."""
        chooser = getattr(executor, "backend_for", None)
        now = time.monotonic()
        remembered = self._backends.get(capability)
        if chooser is None and remembered is not None and now - remembered[0] < BACKEND_MEMO_S:
            return remembered[1]
        try:
            backend = chooser(capability) if chooser is not None else self.registry.ready_backend(capability)
        except Exception:  # noqa: BLE001 - no ready backend: the run itself will say why
            return None
        self._backends[capability] = (now, backend)
        return backend

    def _storable(self, request: CapabilityRequest, result: CapabilityResult) -> bool:
        if result.type != "image" or not result.images:
            return False
        # A run that drew its own seed (a diffusion style, say) is not repeatable unless the user fixed the seed.
        return not ("seed" in result.metadata and (request.params or {}).get("seed") is None)

    def _settings_fingerprint(self) -> str:
        if self._settings_digest is None:
            values = {}
            for name, value in sorted(vars(self.settings or {}).items() if self.settings is not None else []):
                if name.startswith("_") or _IRRELEVANT_SETTINGS.match(name):
                    continue
                values[name] = [str(value), *_file_stamp(value)]
            self._settings_digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
        return self._settings_digest


def _file_stamp(value) -> list:
    """Size and date of a weights file a setting names, so a replaced file changes the key."""
    if not isinstance(value, (str, Path)) or not str(value) or len(str(value)) > 4096:
        return []
    try:
        path = Path(str(value).split("@", 1)[0]).expanduser()
        if path.is_file():
            stat = path.stat()
            return [stat.st_size, stat.st_mtime_ns]
    except OSError:
        pass
    return []


def _pixels_digest(image) -> str:
    digest = hashlib.sha256(f"{image.mode}|{image.size}".encode())
    digest.update(image.tobytes())
    return "pixels:" + digest.hexdigest()


def _module_stamp(cls) -> list:
    """Size and date of the backend's source file: new backend code is a new version of its results."""
    module = sys.modules.get(cls.__module__)
    return _file_stamp(getattr(module, "__file__", "") or "")


def _safe(method) -> str:
    try:
        return str(method())
    except Exception:  # noqa: BLE001
        return ""
