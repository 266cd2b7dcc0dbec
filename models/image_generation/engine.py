"""The loaded text-to-image model and the code that runs it (torch and diffusers are imported in here only).

`load_engine(config)` builds the diffusers pipeline straight from the weights (`from_pretrained` with
`low_cpu_mem_usage`: no random initialisation first), swaps in the TAESD decoder when configured, applies the
device's speed-ups (half precision on CUDA, channels_last, SDPA attention which diffusers uses by default on
torch 2, VAE slicing, optional `torch.compile`) and loads the safety checker. `Engine.generate(plan, …)` runs a
`GenerationPlan` in batches — seeded per image with CPU generators so a seed gives the same picture on any
device — reports per-step progress, honours cancellation between steps and halves the batch after an
out-of-memory error. The image-to-image pipeline shares the text-to-image pipeline's modules (`from_pipe`).
"""

from __future__ import annotations

import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Callable

from core.errors import Cancelled
from models.cache import free_accelerator_memory, is_out_of_memory
from models.image_generation.plan import IMAGE_TO_IMAGE, GenerationPlan, ModelProfile
from models.image_generation.provenance import sampler_name
from models.image_generation.safety import SafetyFilter

log = logging.getLogger(__name__)
TILING_PIXELS = 1536 * 1536  # above this the VAE decodes in tiles (memory grows with the square of the size)

# A1111 sampler name → diffusers scheduler class and the config overrides that make it that sampler.
SCHEDULERS = {
    "Euler a": ("EulerAncestralDiscreteScheduler", {}), "Euler": ("EulerDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}), "UniPC": ("UniPCMultistepScheduler", {}), "LCM": ("LCMScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}), "LMS": ("LMSDiscreteScheduler", {}), "PLMS": ("PNDMScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
}


@dataclass(frozen=True)
class EngineConfig:
    target: str  # hub id or local folder given to from_pretrained
    model_name: str  # the reference as configured (hub id or path): picks per-model defaults
    revision: str | None
    device: str
    local_files_only: bool
    variant: str | None = None
    tiny_vae: str | None = None  # hub id or folder of an AutoencoderTiny
    tiny_vae_revision: str | None = None
    safety_target: str | None = None  # where the checker lives; None = no check
    safety_subfolder: str | None = None
    safety_processor_subfolder: str | None = None
    safety_revision: str | None = None
    compile: bool = False


@dataclass
class BatchOutcome:
    images: list
    batch_size: int  # the batch size that finally worked


class Engine:
    def __init__(self, pipe, profile: ModelProfile, device: str, dtype, safety: SafetyFilter | None):
        self.pipe = pipe
        self.profile = profile
        self.device = device
        self.dtype = dtype
        self.safety = safety
        self._image_pipe = None
        self._lock = threading.Lock()  # a diffusers pipeline is not safe to call from two threads
        self.nbytes = _module_bytes(pipe)
        self.speedups: list[str] = []

    @property
    def image_pipe(self):
        if self._image_pipe is None:
            from diffusers import AutoPipelineForImage2Image

            self._image_pipe = AutoPipelineForImage2Image.from_pipe(self.pipe)
            self._image_pipe.set_progress_bar_config(disable=True)
        return self._image_pipe

    def generate(self, plan: GenerationPlan, *, progress: Callable[[float, str], None],
                 cancelled: Callable[[], bool]) -> tuple[BatchOutcome, str, str, list[str]]:
        """Images for `plan`, plus the scheduler class, the A1111 sampler name and notes."""
        with self._lock:
            pipe = self.image_pipe if plan.mode == IMAGE_TO_IMAGE else self.pipe
            original_scheduler = pipe.scheduler
            notes: list[str] = []
            if plan.scheduler:
                swapped, note = _scheduler_for(original_scheduler, plan.scheduler)
                if swapped is not None:
                    pipe.scheduler = swapped
                if note:
                    notes.append(note)
            try:
                self._configure_vae(plan)
                outcome = run_in_batches(plan.seeds, plan.count, lambda seeds, done: self._run_batch(
                    pipe, plan, seeds, done, progress, cancelled))
                scheduler_class = type(pipe.scheduler).__name__
                karras = bool(getattr(pipe.scheduler.config, "use_karras_sigmas", False))
            finally:
                pipe.scheduler = original_scheduler
        if outcome.batch_size < plan.count:
            notes.append(f"ran {outcome.batch_size} image(s) at a time after running out of memory")
        return outcome, scheduler_class, sampler_name(scheduler_class, karras), notes

    def _configure_vae(self, plan: GenerationPlan) -> None:
        vae = self.pipe.vae
        if hasattr(vae, "enable_tiling"):
            vae.enable_tiling() if plan.width * plan.height > TILING_PIXELS else vae.disable_tiling()

    def _run_batch(self, pipe, plan: GenerationPlan, seeds: list[int], done: int, progress, cancelled) -> list:
        import torch

        if cancelled():
            raise Cancelled("Generation cancelled.")
        total = plan.count

        def on_step_end(pipeline, step, timestep, callback_kwargs):
            steps = max(1, getattr(pipeline, "_num_timesteps", 0) or plan.steps)
            fraction = (done + len(seeds) * min(1.0, (step + 1) / steps)) / total
            progress(fraction, f"Step {step + 1}/{steps}" + (f" · images {done + 1}–{done + len(seeds)} of {total}"
                                                              if total > 1 else ""))
            if cancelled():
                raise Cancelled("Generation cancelled.")
            return callback_kwargs

        kwargs = {"prompt": [plan.prompt] * len(seeds), "num_inference_steps": plan.steps,
                  "guidance_scale": plan.guidance, "width": plan.width, "height": plan.height,
                  "generator": [torch.Generator("cpu").manual_seed(s) for s in seeds],
                  "callback_on_step_end": on_step_end, "output_type": "pil"}
        accepted = inspect.signature(pipe.__call__).parameters
        if plan.negative_prompt and plan.guidance > 1.0 and "negative_prompt" in accepted:
            kwargs["negative_prompt"] = [plan.negative_prompt] * len(seeds)
        if plan.mode == IMAGE_TO_IMAGE:
            kwargs.update(image=[plan.init_image] * len(seeds), strength=plan.strength)
        with torch.inference_mode():
            return list(pipe(**kwargs).images)

    def release(self) -> None:
        if self.safety is not None:
            self.safety.release()
        self.pipe = self._image_pipe = self.safety = None
        free_accelerator_memory()


def run_in_batches(seeds: list[int], batch_size: int, run_batch, *, is_oom=is_out_of_memory,
                   free_memory=free_accelerator_memory) -> BatchOutcome:
    """`run_batch(seeds_chunk, done)` over all seeds; an out-of-memory error halves the batch and retries."""
    images: list = []
    batch_size = max(1, min(batch_size, len(seeds)))
    while len(images) < len(seeds):
        chunk = seeds[len(images):len(images) + batch_size]
        try:
            images += run_batch(chunk, len(images))
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled, everything else re-raised
            if batch_size == 1 or not is_oom(exc):
                raise
            log.warning("out of memory with %d images per batch; retrying with %d", batch_size, batch_size // 2)
            free_memory()
            batch_size //= 2
    return BatchOutcome(images, batch_size)


def _scheduler_for(current, name: str):
    """A new scheduler of the A1111 sampler `name` built from the current one's config, or (None, why not)."""
    import diffusers

    class_name, overrides = SCHEDULERS.get(name, (None, {}))
    cls = getattr(diffusers, class_name, None) if class_name else None
    if cls is None:
        return None, f"I don't know the sampler {name!r}; kept the model's own"
    compatible = {c.__name__ for c in getattr(current, "compatibles", [])} | {type(current).__name__}
    if cls.__name__ not in compatible:
        return None, f"the {name} sampler does not work with this model; kept {sampler_name(type(current).__name__)}"
    return cls.from_config(current.config, **overrides), ""


def _module_bytes(pipe) -> int:
    total = 0
    for component in getattr(pipe, "components", {}).values():
        parameters = getattr(component, "parameters", None)
        if callable(parameters):
            total += sum(p.numel() * p.element_size() for p in parameters())
    return total


def apply_speedups(pipe, device: str, *, compile_model: bool = False) -> list[str]:
    """The device's default optimisations; returns what was applied (recorded in the result metadata)."""
    import torch

    applied = []
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True  # only fp32 matmuls (an upcast VAE) are affected
        torch.backends.cudnn.allow_tf32 = True
        if getattr(pipe, "unet", None) is not None:
            pipe.unet.to(memory_format=torch.channels_last)  # convolution-heavy: NHWC kernels are faster
            applied.append("channels_last")
        if hasattr(pipe.vae, "enable_slicing"):
            pipe.vae.enable_slicing()  # decode a batch one image at a time: lower peak memory, same speed
            applied.append("vae_slicing")
    if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        applied.append("sdpa")  # diffusers' default attention processor on torch ≥ 2
    if compile_model and denoiser is not None:
        compiled = torch.compile(denoiser)
        setattr(pipe, "unet" if getattr(pipe, "unet", None) is not None else "transformer", compiled)
        applied.append("torch_compile")
    return applied


def load_engine(config: EngineConfig) -> Engine:
    from diffusers import AutoencoderTiny, AutoPipelineForText2Image

    from models.devices import torch_dtype

    device = config.device
    dtype = torch_dtype(device)
    common = {"revision": config.revision, "local_files_only": config.local_files_only, "dtype": dtype,
              "low_cpu_mem_usage": True}
    if config.variant:
        common["variant"] = config.variant
    if "safety_checker" in pipeline_components(config.target):
        # The checker runs separately (graded blur instead of the pipeline's black squares).
        common.update(safety_checker=None, requires_safety_checker=False)
    pipe = AutoPipelineForText2Image.from_pretrained(config.target, **common)
    if config.tiny_vae:
        pipe.vae = AutoencoderTiny.from_pretrained(config.tiny_vae, revision=config.tiny_vae_revision, dtype=dtype,
                                                   local_files_only=config.local_files_only)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(device)
    applied = apply_speedups(pipe, device, compile_model=config.compile)
    safety = None
    if config.safety_target:
        safety = SafetyFilter.load(config.safety_target, subfolder=config.safety_subfolder,
                                   processor_subfolder=config.safety_processor_subfolder, device=device, dtype=dtype,
                                   revision=config.safety_revision, local_files_only=config.local_files_only)
    engine = Engine(pipe, _profile(pipe, config), device, dtype, safety)
    engine.speedups = applied
    if config.compile:  # compile now, at load, rather than inside the first user's request
        warm = GenerationPlan(mode="text_to_image", request_mode="generate", prompt="warm-up", negative_prompt="",
                              width=engine.profile.native_width, height=engine.profile.native_height, count=1,
                              steps=1, guidance=engine.profile.default_guidance, seed=0)
        engine.generate(warm, progress=lambda *_: None, cancelled=lambda: False)
    return engine


def pipeline_components(folder: str) -> set[str]:
    import json
    from pathlib import Path

    try:
        return set(json.loads((Path(folder) / "model_index.json").read_text()))
    except (OSError, ValueError):
        return set()


def _profile(pipe, config: EngineConfig) -> ModelProfile:
    from models.image_generation.model_source import model_defaults, parse_model_ref

    scale = int(getattr(pipe, "vae_scale_factor", 8))
    unet = getattr(pipe, "unet", None)
    denoiser = unet if unet is not None else getattr(pipe, "transformer", None)
    patch = 1 if unet is not None else 2  # transformer pipelines (Flux, SD3) pack 2x2 latent patches
    sample = getattr(pipe, "default_sample_size", None) or getattr(denoiser.config, "sample_size", 64)
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    native = int(sample) * scale
    steps, guidance = model_defaults(parse_model_ref(config.model_name), type(pipe).__name__)
    return ModelProfile(model_id=config.model_name, native_width=native, native_height=native,
                        granularity=scale * patch, default_steps=steps, default_guidance=guidance,
                        revision=config.revision)
