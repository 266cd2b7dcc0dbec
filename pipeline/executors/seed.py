"""The seed of a run is fixed in the front, before the request leaves for any executor.

A capability that accepts a `seed` parameter gets one chosen here when the message gave none, so the same
request gives the same pixels whichever executor runs it, and a retry on another Ray replica or a fallback
from a remote worker to the local executor repeats the same run instead of drawing a new seed. A run that
reuses an earlier image's seed ("regenerate exactly") is left alone: its seed comes from that image's recipe,
which travels with the request. The caller's request is left as it was (a copy carries the seed), so the
pipeline still knows the user did not choose one (the result cache keeps only runs whose seed the user fixed).
"""

from __future__ import annotations

import dataclasses
import secrets

from models.contracts import CapabilityRequest

REUSES_SEED = {"regenerate_exact"}


def resolve_seed(request: CapabilityRequest, capability) -> CapabilityRequest:
    if capability is None or "seed" not in capability.params or request.params.get("seed") is not None:
        return request
    parsed = capability.parse_params(request.text) if capability.parse_params else {}
    if {**parsed, **request.params}.get("mode") in REUSES_SEED:
        return request
    return dataclasses.replace(request, params={**request.params, "seed": secrets.randbelow(2**32)})
