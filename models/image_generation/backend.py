"""The diffusers text-to-image backend: status, download, load and run.

`status()` only looks at files (the local folder or the huggingface_hub cache) and never imports torch: the
model from `GATEWAY_T2I_MODEL` (or the device default), the TAESD decoder and, when required, the safety
checker. Missing weights give "missing" (hub offline, or a local folder that is absent or incomplete) or
"downloadable", always with the exact command that fixes it. `load()` fetches missing weights on first use when
downloads are allowed (`models.hub`: exactly the files needed, the fp16 variant on a GPU, progress in the reply)
and then loads everything from local files. `run()` plans the request, generates,
applies the safety check and returns images whose recipes and A1111 `parameters` chunks say how to make them
again, with chips for regenerate / same seed / variations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import Cancelled
from models.contracts import (Action, Backend, BackendStatus, CapabilityRequest, CapabilityResult, DOWNLOADABLE, MISSING, missing_modules, OutputImage, READY)
from models.hub import downloads_allowed
from models.image_generation import model_source as ms
from models.image_generation.params import (REGENERATE, REGENERATE_EXACT, SAFETY_FEEDBACK, VARIATION,
                                            parse_generation_params)
from models.image_generation.plan import IMAGE_TO_IMAGE, MAX_SIDE, GenerationPlan, plan_generation
from models.image_generation.provenance import a1111_parameters, image_recipe
from models.image_generation.safety import SAFETY_OFF, SAFETY_ON, blur, normalise_mode

CAPABILITY = "image_generation"
DOWNLOAD_COMMAND = "python -m models.download image_generation"
_RECIPE_KEYS_FOR_CHIPS = ("mode", "prompt", "negative_prompt", "seed", "count", "steps", "guidance", "width",
                          "height", "sampler_requested", "strength")
_STATE_RANK = {READY: 0, DOWNLOADABLE: 1, MISSING: 2}


@dataclass(frozen=True)
class Requirement:
    """One set of weights the backend needs, and where it is (folder None = not on disk)."""
    what: str
    ref: ms.ModelRef
    folder: Path | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.folder is not None and not self.problems


@dataclass(frozen=True)
class SafetySource:
    target: str
    subfolder: str | None
    processor_subfolder: str | None
    origin: str  # shown to the user: which checker


class DiffusersGenerator(Backend):
    name = "diffusers"
    capability = CAPABILITY
    description = ("Text-to-image, regenerate (new or same seed) and variations (image-to-image) with a diffusers "
                   "pipeline: SD, SDXL, FLUX and their distilled turbo versions.")

    # ---- what to use (cheap, file checks only) -------------------------------------------------------------
    def device(self) -> str:
        return ms.likely_device(getattr(self.settings, "device", "auto"))

    def model_ref(self, device: str | None = None) -> tuple[ms.ModelRef, bool]:
        configured = (getattr(self.settings, "t2i_model", "") or "").strip()
        return ms.parse_model_ref(configured or ms.default_model(device or self.device())), not configured

    def model_requirement(self) -> Requirement:
        ref, _ = self.model_ref()
        folder = ms.cached_folder(ref, "model_index.json")
        problems = tuple(ms.pipeline_problems(folder)) if folder else ()
        return Requirement("text-to-image model", ref, folder, problems)

    def tiny_vae_requirement(self, device: str | None = None) -> Requirement | None:
        ref, is_default = self.model_ref(device)
        vae = ms.tiny_vae_ref(getattr(self.settings, "t2i_tiny_vae", "auto"), ref, is_default, device or self.device())
        if vae is None:
            return None
        folder = ms.cached_folder(vae, "config.json")
        return Requirement("TAESD decoder", vae, folder, tuple(ms.component_problems(folder)) if folder else ())

    def safety_mode(self) -> str:
        return normalise_mode(getattr(self.settings, "t2i_safety", "auto"))

    def safety_requirement(self, model: Requirement) -> tuple[SafetySource | None, Requirement | None]:
        """Where the checker comes from (None = no check) and, when it is a separate download, its requirement."""
        if self.safety_mode() == SAFETY_OFF:
            return None, None
        if model.ok and not ms.component_problems(model.folder / "safety_checker") \
                and (model.folder / "feature_extractor").is_dir():
            return SafetySource(str(model.folder), "safety_checker", "feature_extractor",
                                f"{model.ref.display_name}/safety_checker"), None
        text = (getattr(self.settings, "t2i_safety_checker", "") or "").strip()
        if not text:
            return None, None
        ref = ms.parse_model_ref(text)
        folder = ms.cached_folder(ref, "config.json")
        problems = tuple(ms.component_problems(folder)) if folder else ()
        if folder and not (folder / "preprocessor_config.json").is_file():
            problems += ("preprocessor_config.json is missing",)
        requirement = Requirement("safety checker", ref, folder, problems)
        source = SafetySource(str(folder), None, None, ref.display_name) if requirement.ok else None
        return source, requirement

    def requirements(self) -> list[Requirement]:
        model = self.model_requirement()
        needed = [model]
        vae = self.tiny_vae_requirement()
        if vae is not None:
            needed.append(vae)
        _, checker = self.safety_requirement(model)
        if checker is not None and self.safety_mode() == SAFETY_ON:
            needed.append(checker)
        return needed

    # ---- status and listing ------------------------------------------------------------------------------------
    def status(self) -> BackendStatus:

        if absent := missing_modules("torch", "diffusers", "transformers"):
            return absent
        worst, reasons, fixes = READY, [], []
        for requirement in self.requirements():
            state, reason, fix = self._requirement_status(requirement)
            if state != READY:
                reasons.append(reason)
                fixes.append(fix)
                worst = max(worst, state, key=_STATE_RANK.__getitem__)
        if worst == READY:
            return BackendStatus(READY)
        fix = "; ".join(dict.fromkeys(fixes))
        return BackendStatus(worst, "; ".join(reasons), fix)

    def _requirement_status(self, requirement: Requirement) -> tuple[str, str, str]:
        ref = requirement.ref
        if requirement.ok:
            return READY, "", ""
        if ref.is_local:
            if requirement.folder is None:
                reason = f"the {requirement.what} folder {ref.local_path} does not exist"
            else:
                problems = "; ".join(requirement.problems)
                reason = f"the {requirement.what} folder {ref.local_path} is incomplete ({problems})"
            setting = {"text-to-image model": "GATEWAY_T2I_MODEL", "TAESD decoder": "GATEWAY_T2I_TINY_VAE"}.get(
                requirement.what, "GATEWAY_T2I_SAFETY_CHECKER")
            return MISSING, reason, (f"set {setting} to a complete diffusers folder or a Hugging Face hub id, "
                                     f"then run `{DOWNLOAD_COMMAND}`")
        where = "are incomplete in" if requirement.folder is not None else "are not in"
        reason = f"the weights of {requirement.what} {ref.text} {where} the Hugging Face cache"
        if ms.is_hub_offline():
            return MISSING, reason + " and the Hub is off (HF_HUB_OFFLINE)", \
                f"run `{DOWNLOAD_COMMAND}` on a machine with internet access (same HF_HOME)"
        return DOWNLOADABLE, reason, (f"run `{DOWNLOAD_COMMAND}` (it downloads on first use when the Hub is reachable "
                                      "and GATEWAY_ALLOW_DOWNLOADS is on)")

    @property
    def licence(self) -> str:  # of the weights, which is what restricts use
        model = self.model_requirement()
        preset = model.ref.preset
        weights = (preset.licence if preset else "") or (
            f"{ms.folder_licence(model.folder)} (weights, from the model card)" if ms.folder_licence(model.folder)
            else f"weights licence not stated in {model.ref.display_name}: check the model's source")
        parts = [weights]
        if self.tiny_vae_requirement() is not None:
            parts.append(ms.TINY_VAE_LICENCE)
        return "; ".join(parts) + "; code: diffusers Apache-2.0"

    @property
    def estimated_bytes(self) -> int:
        model = self.model_requirement()
        on_disk = ms.weights_bytes(model.folder)
        if on_disk:
            return on_disk // 2 if self.device() != "cpu" and not ms.has_variant(model.folder, "fp16") else on_disk
        preset = model.ref.preset
        return preset.approx_bytes if preset and preset.approx_bytes else 4 * 2**30

    def describe(self) -> dict:
        info = super().describe()
        model = self.model_requirement()
        source, _ = self.safety_requirement(model)
        vae = self.tiny_vae_requirement()
        info.update(model=model.ref.text, device=self.device(), tiny_vae=vae.ref.text if vae else None,
                    safety=(f"checked by {source.origin}" if source else
                            "off (GATEWAY_T2I_SAFETY=off)" if self.safety_mode() == SAFETY_OFF else
                            f"unchecked: no safety checker on disk (`{DOWNLOAD_COMMAND}` fetches one)"))
        return info

    def cache_key(self) -> str:
        ref, _ = self.model_ref()
        vae = self.tiny_vae_requirement()
        return (f"{CAPABILITY}/{self.name}/{ref.text}|{self.device()}|vae={vae.ref.text if vae else '-'}"
                f"|safety={self.safety_mode()}|checker={getattr(self.settings, 't2i_safety_checker', '')}"
                f"|compile={bool(getattr(self.settings, 't2i_compile', False))}")

    # ---- download and load ------------------------------------------------------------------------------------------
    def _variant(self, device: str) -> str | None:
        ref, _ = self.model_ref(device)
        if device == "cpu" or (ref.preset is not None and not ref.preset.fp16_variant):
            return None
        return "fp16"  # half the download on a GPU (a repo without it falls back to its plain weights)

    def weight_files(self, device: str) -> list:
        """The preset's files for `device` plus the safety checker and the TAESD decoder, when known offline."""
        from models.image_generation.fetch import known_pipeline_spec, known_single_model_spec

        ref, _ = self.model_ref(device)
        specs = [known_pipeline_spec(ref, self._variant(device))]
        vae = self.tiny_vae_requirement(device)
        if vae is not None:
            specs.append(known_single_model_spec(vae.ref))
        checker = (getattr(self.settings, "t2i_safety_checker", "") or "").strip()
        if checker and self.safety_mode() != SAFETY_OFF:  # a preset ships no checker of its own
            specs.append(known_single_model_spec(ms.parse_model_ref(checker)))
        return [spec for spec in specs if spec is not None]

    def download(self) -> str:
        """Fetch the model, the TAESD decoder and the safety checker into the huggingface_hub cache."""
        from models.image_generation.fetch import fetch_pipeline, fetch_single_model

        done = []
        model = self.model_requirement()
        if model.ref.is_local:
            done.append(f"{model.ref.local_path}: local folder, nothing to download"
                        + ("" if model.ok else f" (but it is not usable: {'; '.join(model.problems) or 'absent'})"))
        else:
            done.append(fetch_pipeline(model.ref, self._variant(self.device())))
            model = self.model_requirement()
        vae = self.tiny_vae_requirement()
        if vae is not None and not vae.ref.is_local:
            done.append(fetch_single_model(vae.ref))
        _, checker = self.safety_requirement(model)
        if checker is not None and not checker.ref.is_local:
            done.append(fetch_single_model(checker.ref, processor=True))
        return f"{CAPABILITY}/{self.name}: " + "; ".join(done)

    def load(self, device: str):
        from models.devices import resolve_device
        from models.image_generation.engine import EngineConfig, load_engine

        device = resolve_device(device or "auto")
        missing = [r for r in self.requirements() if not r.ok]
        if missing and downloads_allowed(self.settings):
            self.download()
        model = self.model_requirement()
        if not model.ok:
            from core.errors import CapabilityUnavailable

            status = self.status()
            raise CapabilityUnavailable(f"Image generation cannot run here: {status.reason}", suggestions=[status.fix])
        vae = self.tiny_vae_requirement()
        safety, _ = self.safety_requirement(model)
        variant = "fp16" if device != "cpu" and ms.has_variant(model.folder, "fp16") else None
        engine = load_engine(EngineConfig(
            target=str(model.folder), model_name=model.ref.text, revision=None, device=device, local_files_only=True,
            variant=variant, tiny_vae=str(vae.folder) if vae and vae.ok else None,
            safety_target=safety.target if safety else None,
            safety_subfolder=safety.subfolder if safety else None,
            safety_processor_subfolder=safety.processor_subfolder if safety else None,
            compile=bool(getattr(self.settings, "t2i_compile", False)) and device.startswith("cuda")))
        engine.model_info = self._model_info(model, vae, engine, safety)
        return engine

    def _model_info(self, model: Requirement, vae: Requirement | None, engine, safety) -> dict:
        commit = model.folder.name if not model.ref.is_local else None  # hub snapshots are named by commit
        return {"model_id": model.ref.repo_id or str(model.ref.local_path), "model_name": model.ref.display_name,
                "model_revision": model.ref.revision or commit, "model_commit": commit,
                "model_source": "local" if model.ref.is_local else "hub", "pipeline": type(engine.pipe).__name__,
                "vae": vae.ref.text if vae else None, "dtype": str(engine.dtype).replace("torch.", ""),
                "device": engine.device, "speedups": list(engine.speedups), "backend": self.name,
                "safety_checker": safety.origin if safety else None}

    # ---- run -----------------------------------------------------------------------------------------------------
    def run(self, engine, request: CapabilityRequest) -> CapabilityResult:
        params = {**parse_generation_params(request.text), **(request.params or {})}
        if params.get("mode") == SAFETY_FEEDBACK:
            return _safety_feedback_reply(params, self.safety_mode())
        max_pixels = min(int(getattr(self.settings, "max_output_pixels", MAX_SIDE ** 2)), MAX_SIDE ** 2)
        plan = plan_generation(request, engine.profile, max_pixels=max_pixels)
        if request.cancelled():
            raise Cancelled("Generation cancelled.")
        request.report(0.0, "Generating…")
        started = time.perf_counter()
        outcome, scheduler_class, sampler, notes = engine.generate(plan, progress=request.report,
                                                                   cancelled=request.cancelled)
        generated = time.perf_counter()
        images, safety = self._apply_safety(engine, outcome.images)
        checked = time.perf_counter()
        request.report(1.0, "Done")
        outputs = []
        for index, (image, seed, verdict) in enumerate(zip(images, plan.seeds, safety)):
            recipe = image_recipe(plan, seed=seed, index=index, scheduler_class=scheduler_class, sampler=sampler,
                                  model=engine.model_info, safety=verdict)
            outputs.append(OutputImage(image=image, recipe=recipe, parent_ids=list(plan.parent_ids),
                                       png_text={"parameters": a1111_parameters(recipe)}))
        notes = plan.notes + notes
        flagged = [v for v in safety if v.get("flagged")]
        return CapabilityResult(
            images=outputs, message=_message(plan, engine.model_info, notes, flagged),
            model_id=engine.model_info["model_id"],
            metadata={"seed": plan.seed, "seeds": plan.seeds, "steps": plan.steps, "guidance": plan.guidance,
                      "width": plan.width, "height": plan.height, "count": plan.count, "mode": plan.request_mode,
                      "sampler": sampler, "batch_size": outcome.batch_size, "notes": notes,
                      "safety": safety, "model_revision": engine.model_info["model_revision"],
                      "timings": {"generate_s": round(generated - started, 4),
                                  "safety_s": round(checked - generated, 4)},
                      "speedups": engine.model_info["speedups"]},
            actions=_actions(outputs[0].recipe, plan, flagged),
            suggestions=["Upscale to higher resolution", "Remove the background", "Make variations of this"])

    def _apply_safety(self, engine, images) -> tuple[list, list[dict]]:
        if engine.safety is None:
            why = "off" if self.safety_mode() == SAFETY_OFF else "no safety checker available"
            return images, [{"checked": False, "reason": why} for _ in images]
        verdicts = engine.safety.check(images)
        out = [blur(img, v.score) if v.flagged else img for img, v in zip(images, verdicts)]
        return out, [{**v.to_dict(), "blurred": v.flagged, "checker": engine.safety.source} for v in verdicts]


def _message(plan: GenerationPlan, model: dict, notes: list[str], flagged: list[dict]) -> str:
    seeds = plan.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    what = "a variation" if plan.mode == IMAGE_TO_IMAGE else "an image"
    if plan.count > 1:
        what = f"{plan.count} variations" if plan.mode == IMAGE_TO_IMAGE else f"{plan.count} images"
    about = f" of “{plan.prompt}”" if plan.prompt else ""
    strength = f", strength {plan.strength:g}" if plan.strength is not None else ""
    text = (f"Here {'is' if plan.count == 1 else 'are'} {what}{about} — {plan.width}×{plan.height}, "
            f"{plan.steps} step{'s' if plan.steps != 1 else ''}, guidance {plan.guidance:g}{strength}, {seed_text}, "
            f"{model['model_name']}.")
    if notes:
        text += " Note: " + "; ".join(notes) + "."
    if flagged:
        text += (f" I blurred {len(flagged)} image{'s' if len(flagged) > 1 else ''} because the safety check flagged "
                 f"{'them' if len(flagged) > 1 else 'it'} (score {max(v['score'] for v in flagged):.3f} over the "
                 "threshold). If that was a mistake, tell me with the button below.")
    return text


def _actions(recipe: dict, plan: GenerationPlan, flagged: list[dict]) -> list[Action]:
    source = {k: recipe[k] for k in _RECIPE_KEYS_FOR_CHIPS if recipe.get(k) is not None}
    source["count"] = plan.count
    source["seed"] = plan.seed

    def chip(id_, label, message, params):
        return Action(id_, label, message, {"force_intent": CAPABILITY, "params": params})

    actions = [chip("regenerate", "Regenerate (new seed)", "regenerate", {"mode": REGENERATE, "source_recipe": source}),
               chip("regenerate_exact", "Same seed again", "regenerate exactly",
                    {"mode": REGENERATE_EXACT, "source_recipe": source, "seed": plan.seed, "count": plan.count}),
               chip("variations", "Variations", "make variations of this", {"mode": VARIATION})]
    if flagged:
        actions.append(chip("safety_false_positive", "This was a mistake",
                            "The safety check flagged that image by mistake",
                            {"mode": SAFETY_FEEDBACK, "prompt": plan.prompt, "seeds": plan.seeds,
                             "scores": [v["score"] for v in flagged]}))
    return actions


def _safety_feedback_reply(params: dict, mode: str) -> CapabilityResult:
    report = {k: params.get(k) for k in ("prompt", "seeds", "scores") if params.get(k) is not None}
    return CapabilityResult(
        type="text", model_id=None,
        message=("Thanks — I recorded that the safety check was wrong about that image. It stays blurred while the "
                 f"check is {mode} on this gateway; your report is stored with this message for the operator to "
                 "review (they can tune GATEWAY_T2I_SAFETY)."),
        metadata={"safety_feedback": report})
