"""The object-removal flow every inpainting backend shares; a backend only says how to fill a hole.

1. The mask: the painted one (`request.mask`, from the UI brush or the API's `mask`), else the named target
   found by the CLIPSeg grounder when its weights are here, else by the embedded finder (COCO-class things by
   a detector, people, cats, the photo's main object; the reply says how it chose and offers the brush),
   else a clarification that opens the brush. 2. Dilation, so the object's edge does not ghost. 3. A crop around the mask with context,
   shrunk when larger than `object_removal_max_side`. 4. The backend's `fill()`. 5. Only the mask's pixels
   are pasted back: everything else stays bit-identical, so repeated edits do not drift.
"""

from __future__ import annotations

from core.errors import Cancelled, InvalidInput, MissingInput
from models.contracts import Action, Backend, CapabilityRequest, CapabilityResult, OutputImage
from models.object_removal import masks

MAX_COVERAGE = 0.9


class InpaintBackend(Backend):
    capability = "object_removal"
    human_name = ""  # for messages: "LaMa", "PatchMatch"…

    def __init__(self, settings=None, grounder=None, finder=None):
        super().__init__(settings)
        self.grounder = grounder  # CLIPSeg: any phrase, when its weights are here
        self.finder = finder  # the embedded finder (finders.py): COCO things, people, cats, the main object

    # ---- what subclasses provide ------------------------------------------------------------------------
    def fill(self, handle, rgb, hole, request: CapabilityRequest):
        """uint8 H x W x 3 crop and bool H x W hole → uint8 H x W x 3 with the hole filled."""
        raise NotImplementedError

    def model_id(self, handle) -> str:
        return self.name

    # ---- shared --------------------------------------------------------------------------------------------
    def attach_registry(self, registry) -> None:
        if self.grounder is not None:
            self.grounder.attach_cache(registry.cache)

    def describe(self) -> dict:
        info = super().describe()
        if self.grounder is not None:
            info["mask_from_text"] = self.grounder.describe()
        if self.finder is not None:
            info["mask_from_text_offline"] = self.finder.describe()
        return info

    def download(self) -> str:
        lines = [self.download_weights()]
        if self.grounder is not None:
            lines.append(self.grounder.download())
        return "; ".join(lines)

    def download_weights(self) -> str:
        return f"{self.capability}/{self.name}: nothing to download"

    def run(self, handle, request: CapabilityRequest) -> CapabilityResult:
        import numpy as np

        if not request.images:
            raise MissingInput("Attach the image you want me to erase something from.")
        source = request.images[0]
        image = source.image
        target = str(request.params.get("target") or "").strip()
        position = str(request.params.get("position") or "").strip()
        found = self._find_mask(request, image, target, position)
        if isinstance(found, CapabilityResult):
            return found
        mask, mask_source, finder = found
        radius = max(0, int(self.settings.object_removal_dilate_px))
        if mask_source == "text":
            radius += round(0.01 * max(image.size))  # both finders work at a few hundred px: coarse edges
        mask = masks.dilate(mask, radius)
        pixels = int(np.count_nonzero(mask))
        coverage = pixels / mask.size
        if coverage > MAX_COVERAGE:
            raise InvalidInput(f"The area to erase covers {coverage:.0%} of the image; there is nothing left to fill "
                               "it from.", suggestions=["Paint a smaller area over just the object."])
        if request.cancelled():
            raise Cancelled("Object removal was cancelled.")
        request.report(0.1, "Erasing")
        rgb = np.array(image if image.mode == "RGB" else image.convert("RGB"))  # a writable copy
        x0, y0, x1, y1 = masks.crop_box(mask)
        hole = mask[y0:y1, x0:x1]
        filled, work_scale = self._fill_crop(handle, rgb[y0:y1, x0:x1], hole, request)
        np.copyto(rgb[y0:y1, x0:x1], filled, where=hole[..., None])  # only the mask's pixels change
        result = _to_image(rgb, image)
        return self._result(request, source, result, target=target, position=position, mask_source=mask_source,
                            pixels=pixels, shape=mask.shape, radius=radius, box=(x0, y0, x1, y1),
                            work_scale=work_scale, handle=handle, finder=finder)

    def _find_mask(self, request, image, target: str, position: str):
        painted_but_empty = False
        if request.mask is not None:
            mask = masks.painted_mask(request.mask, image.size)
            if mask.any():
                return mask, "painted", None
            painted_but_empty = True  # an untouched brush layer: fall back to the named target
        if not target:
            if painted_but_empty:
                return _ask_for_brush("The painted mask is empty: paint over the object you want erased, then send "
                                      "again.", "empty_mask", "")
            return _ask_for_brush("Paint over what you want me to erase, then send the message again.", "no_target", "")
        if self.grounder is not None and self.grounder.available():
            request.report(0.05, f"Looking for {target}")
            heat = self.grounder.heatmap(image, target, request.device)
            mask = masks.select_components(heat, float(self.settings.object_removal_grounding_threshold),
                                           position or None)
            if not mask.any():
                return _ask_for_brush(f"I couldn't find “{target}” in the image. Paint over it with the brush and "
                                      "send again.", "target_not_found", target)
            return mask, "text", "CLIPSeg"
        if self.finder is None or not self.finder.available():
            return _ask_for_brush(
                f"I can't locate “{target}” by myself here (no text-grounding model is installed), so I won't guess: "
                "paint over it with the brush and send again.", "no_grounding_model", target)
        request.report(0.05, f"Looking for {target}")
        found = self.finder.find(image, target, position or None)
        if found is None:
            return _ask_for_brush(f"I couldn't find “{target}” in the image with my built-in finder. Paint over it "
                                  "with the brush and send again.", "target_not_found", target)
        return found.mask, "text", found

    def _fill_crop(self, handle, rgb, hole, request):
        """Fill at most `object_removal_max_side` pixels wide; a bigger crop is shrunk and the fill scaled back."""
        import numpy as np
        from PIL import Image

        height, width = hole.shape
        limit = max(64, int(self.settings.object_removal_max_side))
        scale = min(1.0, limit / max(height, width))
        if scale >= 1.0:
            return self.fill(handle, rgb, hole, request), 1.0
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        small_rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
        small_hole = np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).resize(size, Image.Resampling.BILINEAR)) > 0
        filled = self.fill(handle, small_rgb, small_hole, request)
        return np.asarray(Image.fromarray(filled).resize((width, height), Image.Resampling.LANCZOS)), round(scale, 4)

    def _result(self, request, source, image, *, target, position, mask_source, pixels, shape, radius, box,
                work_scale, handle, finder=None) -> CapabilityResult:
        model_id = self.model_id(handle)
        fraction = pixels / (shape[0] * shape[1])
        recipe = {"operation": "object_removal", "target": target or None, "position": position or None,
                  "mask_source": mask_source, "mask_pixels": pixels, "mask_fraction": round(fraction, 5),
                  "dilate_px": radius, "crop": list(box), "work_scale": work_scale, "model": model_id,
                  "backend": self.name}
        what = f"“{target}”" if target else "the painted area"
        message = f"Erased {what} ({fraction:.1%} of the image) with {self.human_name}."
        actions = []
        if mask_source == "text" and finder == "CLIPSeg":
            message += (f" I located it with CLIPSeg{' (' + position + ')' if position else ''}; if it missed, "
                        "paint over the object with the brush and ask again.")
            recipe["grounding_model"] = self.grounder.model_id
        elif mask_source == "text":
            where = f", {position}" if position else ""
            if finder.kind == "main_object":
                message += (f" I have no detector that knows what “{target}” looks like, so I took it to be "
                            f"{finder.how}{where}. Not the right thing? Paint it instead.")
            elif finder.chosen > 1:
                message += f" I found {finder.chosen} of them with {finder.how}; if it missed, paint it instead."
            else:
                many = f" (one of {finder.candidates} found{where})" if finder.candidates > 1 else ""
                message += f" I found it with {finder.how}{many}; if it missed, paint it instead."
            recipe["grounding_model"] = self.finder.model_id
            recipe["finder"] = finder.kind
        if mask_source == "text":
            # One click back to the brush: the request has no mask and no target, so the reply opens it.
            actions.append(Action("paint_instead", "Paint it instead", "erase what I painted",
                                  {"force_intent": self.capability}))
        return CapabilityResult(
            images=[OutputImage(image, recipe=recipe, parent_ids=[source.image_id] if source.image_id else [])],
            message=message, model_id=model_id,
            metadata={"backend": self.name, "mask_source": mask_source, "mask_fraction": recipe["mask_fraction"],
                      "target": target or None, "position": position or None},
            actions=actions, suggestions=["Erase something else", "Upscale it", "Remove the background"])


def _ask_for_brush(message: str, reason: str, target: str) -> CapabilityResult:
    return CapabilityResult(type="clarification", message=message,
                            metadata={"open_brush": True, "reason": reason, "target": target or None})


def _to_image(rgb, original):
    from PIL import Image

    result = Image.fromarray(rgb, "RGB")
    if original.mode == "RGBA":
        result.putalpha(original.getchannel("A"))
    return result
