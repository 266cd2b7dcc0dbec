"""Running a compound request: the router's plan, step by step, each on the previous step's output.

`run_plan(pipeline, plan, turn)` runs a plan of two or more steps (`pipeline.understand.router.plan`). Before anything
runs, every step's capability is checked for consent. Each step is refined from its own words, runs through
the result cache and the executor (never the registry), and its images are encoded at once with a recipe that
names the step and the parent image they were made from; the next step works on them (a step after one that
made several images runs once per image). Progress is reported per step ("Step 2 of 3: Remove the
background"), scaled into the request's progress callback; between steps the request's cancel event is
checked, and a cancelled or failed step keeps every image made so far, marks the rest as skipped and says
which step stopped and why. The reply is one message holding all the step images in order, with the last
step's own chips and suggestions when every step ran (`ChipPolicy` binds them to the final image), and
`metadata["plan"]`: one entry per step {intent, label, text, status: pending|running|done|failed|skipped,
message, image_ids, cache_hit}.
"""

from __future__ import annotations

import logging
import time

from core.errors import Cancelled, ConsentRequired, GatewayError
from core.images import load_image
from models.contracts import InputImage
from pipeline.understand.classify import ClassifyContext
from pipeline.run.references import resolve_inputs
from pipeline.run.response import ERROR, IMAGE, Response
from pipeline.run.result_cache import CachedResult
from pipeline.store import NewImage
from pipeline.run.suggest import follow_ups
from pipeline.run.turn import Turn

log = logging.getLogger(__name__)

MAX_FAN_OUT = 4  # a step after one that made several images runs on at most this many of them


def plan_for(router, text: str, context: ClassifyContext, forced_intent: str | None = None):
    """The router's plan; a router without planning gives a one-step plan of its single intent."""
    from pipeline.understand.router.plan import Plan, Step

    if hasattr(router, "plan"):
        return router.plan(text, context, forced_intent=forced_intent)
    return Plan([Step(text, router.route(text, context, forced_intent=forced_intent))])


def run_plan(pipe, plan, turn: Turn) -> Response:
    entries = [{**entry, "image_ids": [], "cache_hit": False} for entry in plan.to_metadata()]
    meta = {**turn.meta, "plan": entries, "intent": plan.steps[-1].intent.name}
    steps = pipe.steps
    asked = _ask_consent_first(pipe, steps, plan, turn, meta)
    if asked is not None:
        return asked
    progress, cancel = turn.progress, turn.cancel_event
    total = len(plan.steps)
    new_images: list[NewImage] = []
    previous: list[InputImage] | None = None
    stopped, last = "", None
    step_started = time.perf_counter()
    for index, step in enumerate(plan.steps):
        if cancel is not None and cancel.is_set():
            stopped = f"Stopped before step {index + 1} of {total} ({step.label}): cancelled."
            break
        entries[index]["status"] = "running"
        _report(progress, index / total, f"Step {index + 1} of {total}: {step.label}")
        try:
            made, last = _run_step(pipe, steps, plan, index, previous, turn)
        except Cancelled as exc:
            entries[index].update(status="failed", message=exc.message or "cancelled")
            stopped = f"Step {index + 1} of {total} ({step.label}) was cancelled."
            break
        except GatewayError as exc:
            entries[index].update(status="failed", message=exc.message)
            stopped = f"Step {index + 1} of {total} ({step.label}) failed: {exc.message}"
            break
        except Exception:  # noqa: BLE001 - a bug in one step must not lose the steps before it
            error_id = f"{time.time_ns():x}"[-12:]
            log.exception("error %s in step %d of a plan", error_id, index + 1)
            entries[index].update(status="failed", message=f"internal error (error id {error_id})")
            stopped = f"Step {index + 1} of {total} ({step.label}) failed on our side (error id {error_id})."
            break
        new_images.extend(image for image, _ in made)
        entries[index].update(status="done", message=last.message if last else "",
                              image_ids=[image.id for image, _ in made],
                              cache_hit=isinstance(last, CachedResult))
        previous = [InputImage(pil, image_id=image.id, recipe=image.recipe, role="previous_step")
                    for image, pil in made][:MAX_FAN_OUT]
        turn.timings[f"step_{index + 1}_ms"] = round((time.perf_counter() - step_started) * 1000, 3)
        step_started = time.perf_counter()
    for entry in entries:
        if entry["status"] in ("pending", "running"):
            entry["status"] = "skipped"
    _report(progress, 1.0, "Plan finished" if not stopped else stopped)
    return _reply(pipe, plan, turn, meta, entries, new_images, last, stopped)


def _ask_consent_first(pipe, steps, plan, turn: Turn, meta: dict) -> Response | None:
    """A step that needs consent asks before any step runs; the chip re-sends the whole message."""
    for step in plan.steps:
        try:
            steps.check_consent(turn, pipe.registry.get(step.intent.name), turn.attachments, step.intent.params)
        except ConsentRequired as exc:
            return pipe.replies.ask_consent(turn, exc, {}, meta=meta)
    return None


def _run_step(pipe, steps, plan, index: int, previous, turn: Turn):
    """Run step `index`; returns ([(NewImage, PIL image)], the last result)."""
    step, total = plan.steps[index], len(plan.steps)
    capability = pipe.registry.get(step.intent.name)
    if previous is None:
        sources = [resolve_inputs(turn.attachments, turn.latest, capability, steps.load_stored)]
    else:
        extra = [a for a in turn.attachments if capability.min_images > 1][: max(capability.min_images - 1, 0)]
        sources = [[image, *extra] for image in previous] if capability.max_images else [[]]
    _, refinement = steps.refine(turn, step.intent, step.text)
    made, result = [], None
    for source in sources:
        request = steps.request(turn, capability, refinement, step.text, source, turn.mask if index == 0 else None,
                                _scaled(turn.progress, index, total, step.label))
        result = steps.run(request)
        if result.type != IMAGE:
            raise GatewayError(result.message or f"{step.label} gave no image.")
        step_images = _images_of(pipe, result, step, index, turn.owner)
        if not isinstance(result, CachedResult):
            pipe.results.remember_ids(result, [image.id for image, _ in step_images], turn.owner, capability.name)
        made.extend(step_images)
        if result.session_updates:
            pipe.store.update_session(turn.session_id, turn.owner, metadata_updates=result.session_updates)
    if not made:
        raise GatewayError(f"{step.label} gave no image.")
    return made, result


def _images_of(pipe, result, step, index: int, owner: str) -> list[tuple[NewImage, object]]:
    """The step's images ready to store (bytes, recipe, parents) with their pixels for the next step."""
    out = []
    if isinstance(result, CachedResult):
        for image_id in result.cached_image_ids:
            row = pipe.store.get_image(image_id, owner)
            data = row.path.read_bytes()  # the stored bytes as they are: same id, nothing re-encoded
            pil = load_image(row.path, max_bytes=2**40, max_pixels=pipe.settings.max_output_pixels).image
            out.append((NewImage(data=data, width=row.width, height=row.height, mime=row.mime,
                                 parent_ids=list(row.parent_ids), recipe=dict(row.recipe or {})), pil))
        return out
    for image in result.images:
        recipe = {"capability": step.intent.name, "backend": result.backend, "model_id": result.model_id,
                  **image.recipe, "parent_ids": image.parent_ids, "plan_step": index + 1, "step_text": step.text}
        out.append((pipe.replies.new_image(image.image, recipe, image.parent_ids, image.png_text), image.image))
    return out


def _reply(pipe, plan, turn: Turn, meta, entries, new_images, last, stopped: str) -> Response:
    done = [e for e in entries if e["status"] == "done"]
    lines = []
    for number, entry in enumerate(entries, 1):
        mark = {"done": "✓", "failed": "✗", "skipped": "–"}.get(entry["status"], "…")
        detail = f" — {entry['message']}" if entry["message"] else ""
        hit = " (from cache)" if entry.get("cache_hit") else ""
        lines.append(f"{number}. {mark} {entry['label']}{hit}{detail}")
    if stopped:
        kept = (f" I kept the result of step{'s' if len(done) > 1 else ''} "
                f"{', '.join(str(entries.index(e) + 1) for e in done)}." if done else "")
        head = stopped + kept
    else:
        head = f"Done in {len(entries)} steps."
    message = head + "\n" + "\n".join(lines)
    if meta.get("notes"):
        message += "\n\nNote: " + "; ".join(meta["notes"]) + "."
    final = plan.steps[len(done) - 1].intent.name if done else plan.steps[0].intent.name
    meta.update({"capability": final, "steps_done": len(done), "steps_total": len(entries),
                 "cache_hit": bool(done) and all(e["cache_hit"] for e in done)})
    if last is not None:
        meta.update({"backend": last.backend, "model_id": last.model_id})
    if stopped and not done:
        response = Response(session_id=turn.session_id, message_id=None, type=ERROR, message=message, metadata=meta,
                            error={"code": "plan_failed", "message": stopped})
    else:
        available = pipe.registry.available_names()
        own = list(getattr(last, "suggestions", None) or []) if len(done) == len(entries) else []
        actions = [a.to_dict() for a in getattr(last, "actions", None) or []] if len(done) == len(entries) else []
        response = Response(session_id=turn.session_id, message_id=None, type=IMAGE, message=message, metadata=meta,
                            actions=actions, suggestions=list(dict.fromkeys(own + follow_ups(final, available, True)))[:4])
    return pipe.replies.save(turn, response, new_images=new_images, meta={})


def _scaled(progress, index: int, total: int, label: str):
    if progress is None:
        return None

    def report(fraction: float, description: str = "") -> None:
        _report(progress, (index + max(0.0, min(1.0, fraction))) / total,
                f"Step {index + 1} of {total}: {label}" + (f" — {description}" if description else ""))

    return report


def _report(progress, fraction: float, description: str) -> None:
    if progress is None:
        return
    try:
        progress(fraction, description)
    except Exception:  # noqa: BLE001 - a progress bar that fails must not stop the work
        log.debug("progress callback failed", exc_info=True)
