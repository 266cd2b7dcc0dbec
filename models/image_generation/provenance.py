"""What every generated image records about how it was made.

`image_recipe` builds the JSON-serialisable recipe the pipeline stores (and writes into the PNG's
`gateway_recipe` chunk): mode, prompt, negative prompt, seed, steps, guidance, size, sampler and scheduler
class, strength, model id + revision, the decoder, dtype/device and the library versions. `a1111_parameters`
renders the same facts as AUTOMATIC1111's `parameters` text chunk, which civitai, A1111's "PNG Info" tab,
ComfyUI and most image viewers read. `parse_a1111_parameters` reads it back (tests and imports).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import metadata

# diffusers scheduler class → A1111 sampler name (the reverse of params.SAMPLER_ALIASES).
SAMPLER_NAMES = {
    "EulerAncestralDiscreteScheduler": "Euler a", "EulerDiscreteScheduler": "Euler",
    "DPMSolverMultistepScheduler": "DPM++ 2M", "DDIMScheduler": "DDIM", "UniPCMultistepScheduler": "UniPC",
    "LCMScheduler": "LCM", "HeunDiscreteScheduler": "Heun", "LMSDiscreteScheduler": "LMS", "PNDMScheduler": "PLMS",
    "DDPMScheduler": "DDPM", "FlowMatchEulerDiscreteScheduler": "Euler", "EDMEulerScheduler": "Euler",
}


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("diffusers", "torch", "transformers", "huggingface-hub", "safetensors"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def sampler_name(scheduler_class: str, karras: bool = False) -> str:
    name = SAMPLER_NAMES.get(scheduler_class, scheduler_class)
    return f"{name} Karras" if karras and name == "DPM++ 2M" else name


def image_recipe(plan, *, seed: int, index: int, scheduler_class: str, sampler: str, model: dict,
                 safety: dict) -> dict:
    recipe = {
        "mode": plan.mode, "request_mode": plan.request_mode,
        "prompt": plan.prompt, "negative_prompt": plan.negative_prompt,
        "seed": seed, "batch_seed": plan.seed, "batch_index": index, "count": plan.count,
        "steps": plan.steps, "guidance": plan.guidance, "width": plan.width, "height": plan.height,
        "sampler": sampler, "sampler_requested": plan.scheduler, "scheduler": scheduler_class,
        **model, "safety": safety, "library_versions": library_versions(),
    }
    if plan.strength is not None:
        recipe["strength"] = plan.strength
    return recipe


def _quote(value) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ',:\n"') else text


def a1111_parameters(recipe: dict) -> str:
    """`prompt\\nNegative prompt: …\\nSteps: 2, Sampler: Euler a, CFG scale: 7.0, Seed: 7, Size: 64x64, …`."""
    fields = [("Steps", recipe["steps"]), ("Sampler", recipe["sampler"]), ("CFG scale", recipe["guidance"]),
              ("Seed", recipe["seed"]), ("Size", f"{recipe['width']}x{recipe['height']}"),
              ("Model", recipe.get("model_name") or recipe.get("model_id"))]
    if recipe.get("model_revision"):
        fields.append(("Model revision", recipe["model_revision"]))
    if recipe.get("strength") is not None:
        fields.append(("Denoising strength", recipe["strength"]))
    if recipe.get("vae"):
        fields.append(("VAE", recipe["vae"]))
    if recipe.get("count", 1) > 1:
        fields += [("Batch size", recipe["count"]), ("Batch pos", recipe.get("batch_index", 0))]
    diffusers_version = recipe.get("library_versions", {}).get("diffusers", "?")
    fields.append(("Version", f"ai-image-gateway (diffusers {diffusers_version})"))
    lines = [recipe["prompt"]]
    if recipe.get("negative_prompt"):
        lines.append(f"Negative prompt: {recipe['negative_prompt']}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in fields))
    return "\n".join(lines)


_FIELD = re.compile(r'\s*([\w ]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_a1111_parameters(text: str) -> dict:
    """Prompt, negative prompt and the key/value fields of an A1111 `parameters` chunk."""
    *head, last = text.strip().split("\n")
    prompt_lines, negative_lines, target = [], [], None
    for line in head:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:"):].strip()
        (target if target is not None else prompt_lines).append(line)
    fields = {}
    for key, value in _FIELD.findall(last):
        fields[key.strip()] = json.loads(value) if value.startswith('"') else value.strip()
    return {"prompt": "\n".join(prompt_lines), "negative_prompt": "\n".join(negative_lines), **fields}
