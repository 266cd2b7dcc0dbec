"""Image generation on Hugging Face Inference Providers (`huggingface_hub.InferenceClient`): no local GPU at all.

Selected with GATEWAY_T2I_PROVIDER (a provider name such as `hf-inference`, `fal-ai`, `replicate`, `together`,
or `auto`); the model is GATEWAY_T2I_PROVIDER_MODEL, or GATEWAY_T2I_PROVIDER_URL for a dedicated endpoint that
speaks the hf-inference protocol. The same planner as the diffusers backend decides prompt, size, count, seeds
and the mode: text-to-image calls `text_to_image`, variations (and diffusion styles) call `image_to_image` on
the source image. Steps and guidance are sent only when the message sets them; otherwise the provider's
defaults apply and the recipe says so. The token is the signed-in user's (`request.credentials["hf_token"]`,
passed by the UI when HF login is on), else GATEWAY_HF_TOKEN, else the machine's saved token. Provider
errors (bad token, no credit, unknown model, timeout) become clear replies. The provider's own content policy
applies; the gateway's local safety checker does not run on these images.
"""

from __future__ import annotations

import time

from core.errors import Cancelled, CapabilityUnavailable, GatewayError
from core.images import encode_png
from models.contracts import (MISSING, Backend, BackendStatus, CapabilityRequest, CapabilityResult, OutputImage,
                              missing_modules)
from models.image_generation import model_source as ms
from models.image_generation.params import SAFETY_FEEDBACK, parse_generation_params
from models.image_generation.plan import MAX_SIDE, TEXT_TO_IMAGE, ModelProfile, plan_generation
from models.image_generation.provenance import a1111_parameters, image_recipe

CAPABILITY = "image_generation"
PROFILE_SIDE = 1024
SETUP_FIX = ("set GATEWAY_T2I_PROVIDER (e.g. hf-inference, fal-ai, replicate, together) and GATEWAY_HF_TOKEN, "
             "or sign in with Hugging Face")


class ProviderError(GatewayError):
    code = "provider_error"


class InferenceProvidersGenerator(Backend):
    name = "inference_providers"
    capability = CAPABILITY
    uses_model = False  # the provider does the work: nothing loads here and no local model slot is taken
    description = ("Text-to-image and variations on Hugging Face Inference Providers (fal, Replicate, Together, "
                   "HF Inference…): generation with no local GPU, billed to the Hugging Face account of the token.")

    # ---- configuration -----------------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        return (getattr(self.settings, "t2i_provider", "") or "").strip()

    @property
    def endpoint(self) -> str:
        return (getattr(self.settings, "t2i_provider_url", "") or "").strip()

    @property
    def model(self) -> str:
        return self.endpoint or (getattr(self.settings, "t2i_provider_model", "") or "").strip()

    @property
    def licence(self) -> str:
        return f"weights: see the model card of {self.model or 'the chosen model'}; the provider's terms apply"

    def status(self) -> BackendStatus:
        if absent := missing_modules("huggingface_hub"):
            return absent
        if not self.provider and not self.endpoint:
            return BackendStatus(MISSING, "no Inference Provider is configured (GATEWAY_T2I_PROVIDER is empty)",
                                 SETUP_FIX)
        if not self.model:
            return BackendStatus(MISSING, "no model is set for the Inference Provider",
                                 "set GATEWAY_T2I_PROVIDER_MODEL to a hub id the provider serves")
        if ms.is_hub_offline():
            return BackendStatus(MISSING, "HF_HUB_OFFLINE is set, and Inference Providers are reached over the network",
                                 "unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE)")
        return BackendStatus("ready")

    def describe(self) -> dict:
        info = super().describe()
        info.update(provider=self.provider or ("hf-inference" if self.endpoint else ""), model=self.model)
        return info

    def cache_key(self) -> str:
        return f"{CAPABILITY}/{self.name}/{self.provider}/{self.model}"

    def load(self, device: str):
        return None  # a client is made per request: its token can be the signed-in user's

    # ---- run --------------------------------------------------------------------------------------------
    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        params = {**parse_generation_params(request.text), **(request.params or {})}
        if params.get("mode") == SAFETY_FEEDBACK:
            return CapabilityResult(type="text", message="Thanks — images from an Inference Provider are checked by "
                                    "the provider's own content policy; your report is stored with this message.")
        max_pixels = min(int(getattr(self.settings, "max_output_pixels", MAX_SIDE ** 2)), MAX_SIDE ** 2)
        # Steps and guidance below are placeholders for the planner: they are sent only when the message set them.
        profile = ModelProfile(self.model, PROFILE_SIDE, PROFILE_SIDE, 16, default_steps=4, default_guidance=7.0)
        plan = plan_generation(request, profile, max_pixels=max_pixels)
        steps = plan.steps if params.get("steps") or _inherited(request, "steps") else None
        guidance = plan.guidance if params.get("guidance") is not None or _inherited(request, "guidance") else None
        client = self._client(request)
        model = None if self.endpoint else self.model
        info = {"model_id": self.model, "model_name": self.model, "model_source": "inference_providers",
                "provider": self.provider or "hf-inference", "backend": self.name, "pipeline": "InferenceClient"}
        outputs, started = [], time.perf_counter()
        for index, seed in enumerate(plan.seeds):
            if request.cancelled():
                raise Cancelled("Generation cancelled.")
            request.report(index / plan.count, f"Asking {info['provider']} for image {index + 1}/{plan.count}…")
            image = self._call(client, plan, model, seed, steps, guidance)
            if image.size != (plan.width, plan.height) and plan.mode == TEXT_TO_IMAGE:
                plan.notes.append(f"the provider returned {image.width}x{image.height}")
            recipe = image_recipe(plan, seed=seed, index=index, scheduler_class=None, sampler="provider default",
                                  model=info, safety={"checked": False, "reason": "the provider's own content policy"})
            recipe.update(steps=steps, guidance=guidance)
            shown = {**recipe, "steps": steps or "provider default",
                     "guidance": guidance if guidance is not None else "provider default"}
            outputs.append(OutputImage(image=image.convert("RGB"), recipe=recipe, parent_ids=list(plan.parent_ids),
                                       png_text={"parameters": a1111_parameters(shown)}))
        request.report(1.0, "Done")
        what = "variation" if plan.mode != TEXT_TO_IMAGE else "image"
        message = (f"Here {'is' if plan.count == 1 else 'are'} {plan.count} {what}{'s' if plan.count > 1 else ''} of "
                   f"“{plan.prompt}” from {self.model} on {info['provider']} (seed {plan.seed}).")
        if plan.notes:
            message += " Note: " + "; ".join(dict.fromkeys(plan.notes)) + "."
        return CapabilityResult(
            images=outputs, message=message, model_id=self.model,
            metadata={"seed": plan.seed, "seeds": plan.seeds, "mode": plan.mode, "provider": info["provider"],
                      "width": plan.width, "height": plan.height, "steps": steps, "guidance": guidance,
                      "timings": {"provider_s": round(time.perf_counter() - started, 4)}},
            suggestions=["Upscale to higher resolution", "Remove the background", "Make variations of this"])

    def _client(self, request: CapabilityRequest):
        from huggingface_hub import InferenceClient, get_token

        token = (request.credentials.get("hf_token") or getattr(self.settings, "hf_token", "") or get_token())
        if not token and not self.endpoint:
            raise CapabilityUnavailable("Image generation on Inference Providers needs a Hugging Face token: sign "
                                        "in with Hugging Face, or ask the operator to set GATEWAY_HF_TOKEN.")
        return InferenceClient(provider="hf-inference" if self.endpoint else self.provider,
                               model=self.endpoint or None, token=token or None,
                               timeout=float(getattr(self.settings, "t2i_provider_timeout_s", 120.0)))

    def _call(self, client, plan, model, seed, steps, guidance):
        try:
            if plan.mode == TEXT_TO_IMAGE:
                return client.text_to_image(plan.prompt, negative_prompt=plan.negative_prompt or None,
                                            width=plan.width, height=plan.height, num_inference_steps=steps,
                                            guidance_scale=guidance, model=model, seed=seed)
            return client.image_to_image(encode_png(plan.init_image), prompt=plan.prompt or None,
                                         negative_prompt=plan.negative_prompt or None, num_inference_steps=steps,
                                         guidance_scale=guidance, model=model, seed=seed, strength=plan.strength,
                                         target_size={"width": plan.width, "height": plan.height})
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - every provider failure becomes a reply that says what happened
            raise _explain(exc, self.provider or "the endpoint", self.model, self.settings) from None


def _inherited(request: CapabilityRequest, key: str) -> bool:
    source = request.images[0].recipe if request.images and request.images[0].recipe else {}
    return (request.params or {}).get("mode") in ("regenerate", "regenerate_exact") and source.get(key) is not None


def _explain(exc: BaseException, provider: str, model: str, settings) -> GatewayError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if type(exc).__name__ == "InferenceTimeoutError":
        return ProviderError(f"{provider} did not answer within {getattr(settings, 't2i_provider_timeout_s', 120):g} s. "
                             "Please try again.")
    if status in (401, 403):
        return CapabilityUnavailable(f"{provider} refused the Hugging Face token ({status}): {detail}",
                                     suggestions=["Sign in again, or check GATEWAY_HF_TOKEN."])
    if status == 402:
        return CapabilityUnavailable(f"{provider} says the account has no credit left for {model} (402).")
    if status == 404:
        return CapabilityUnavailable(f"{provider} does not serve {model} (404): {detail}",
                                     suggestions=["Pick another model or provider in GATEWAY_T2I_PROVIDER_MODEL."])
    if status == 429:
        return ProviderError(f"{provider} is rate-limiting requests (429); please wait a moment and try again.")
    if status is not None and status >= 500:
        return ProviderError(f"{provider} failed or is busy ({status}): {detail}. Please try again.")
    if isinstance(exc, ValueError):  # huggingface_hub's own checks: unsupported task/provider, no token…
        return CapabilityUnavailable(f"{provider} cannot run {model}: {detail}")
    return ProviderError(f"{provider} could not be reached: {detail}")
