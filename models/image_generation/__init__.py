"""The `image_generation` capability: text-to-image, regenerate and variations (diffusers or Inference Providers).

`backend.DiffusersGenerator` runs any diffusers text-to-image pipeline named by `GATEWAY_T2I_MODEL` (a hub id,
`id@revision`, or a local folder); empty picks the device default (SDXL-Turbo on a GPU, SD-Turbo with the TAESD
decoder on CPU). `inference_providers.InferenceProvidersGenerator` generates on Hugging Face Inference
Providers instead, and comes first when GATEWAY_T2I_PROVIDER is set. Message parameters (size, aspect, count,
steps, seed, guidance, sampler, strength, regenerate / same seed / variations) are parsed by
`params.parse_generation_params`.
Importing this package is instant: torch and diffusers are imported in `load()`.
"""

from models.contracts import Capability
from models.image_generation.backend import DiffusersGenerator
from models.image_generation.inference_providers import InferenceProvidersGenerator
from models.image_generation.params import parse_generation_params


def capability(settings) -> Capability:
    return Capability(
        name="image_generation",
        description="create images from a description; regenerate them (new or same seed) and make variations.",
        examples=("a red fox in the snow, watercolor", "4 images of a cozy cabin, 16:9", "a robot portrait, seed 42",
                  "regenerate", "regenerate exactly", "make variations of this"),
        min_images=0, max_images=1,
        params=("prompt", "negative", "width", "height", "aspect", "count", "steps", "seed", "guidance",
                "scheduler", "strength", "mode"),
        backends=_backends(settings),
        parse_params=parse_generation_params,
    )


def _backends(settings):
    """Local diffusers first; an Inference Provider first when GATEWAY_T2I_PROVIDER (or its URL) is set."""
    local, provider = DiffusersGenerator(settings), InferenceProvidersGenerator(settings)
    chosen = (getattr(settings, "t2i_provider", "") or getattr(settings, "t2i_provider_url", "") or "").strip()
    return [provider, local] if chosen else [local, provider]
