"""`Inputs`: a message's images and mask, from what the caller sent to decoded pictures.

`read` checks what can be checked without decoding — how many images, each upload's size and header, the stored
images the message names (the owner's only), the mask — and counts the bytes decoding them will hold, which the
pipeline reserves in the shared decode budget before `decode` turns them into `InputImage`s and an "L" mask
(painted strokes on a transparent layer become their alpha). `check_correction` accepts a "not what I meant"
only for a user message of this conversation.
"""

from __future__ import annotations

from core.errors import InvalidInput
from core.images import load_image, read_header
from models.contracts import InputImage

STORED_BYTES_PER_PIXEL = 8  # a stored RGB(A) image while it is decoded and converted


class Inputs:
    def __init__(self, settings, store):
        self.settings, self.store = settings, store

    def check_correction(self, session, owner: str, message_id) -> None:
        if message_id is None:
            return
        if session is None or not self.store.has_message(session.id, owner, message_id, role="user"):
            raise InvalidInput("`context.correction_of` is not a message of this conversation.",
                               details={"field": "context.correction_of"})

    def read(self, images, owner: str, session, context: dict) -> tuple[list, int]:
        """[(upload bytes or PIL image, label)] and the bytes decoding every input of the message will hold."""
        images = [img for img in (images or []) if img is not None]
        stored_ids = list(context.get("image_ids") or [])
        limit = self.settings.max_images_per_message
        if len(images) + len(stored_ids) > limit:
            raise InvalidInput(f"At most {limit} images per message, please.")
        uploads, cost = [], 0
        for index, source in enumerate(images):
            label = "the image" if len(images) == 1 else f"image {index + 1}"
            if hasattr(source, "convert"):  # an open PIL image (tests, plans)
                uploads.append((source, label))
                cost += source.width * source.height * STORED_BYTES_PER_PIXEL
                continue
            data, header = read_header(source, max_bytes=self.settings.max_upload_bytes,
                                       max_pixels=self.settings.max_image_pixels, label=label)
            uploads.append((data, label))
            cost += header.decode_bytes
        rows = [self.store.get_image(str(image_id), owner) for image_id in stored_ids]
        latest = self.store.latest_image(session.id, owner) if session is not None else None
        cost += sum(row.width * row.height * STORED_BYTES_PER_PIXEL for row in rows + ([latest] if latest else []))
        mask = context.get("mask")
        if mask is not None and hasattr(mask, "convert"):
            cost += mask.width * mask.height * STORED_BYTES_PER_PIXEL
        elif mask is not None:
            data, header = read_header(mask, max_bytes=self.settings.max_upload_bytes,
                                       max_pixels=self.settings.max_image_pixels, label="the mask")
            context["mask"] = data
            cost += header.decode_bytes
        return uploads, cost

    def decode(self, uploads, owner: str, context: dict) -> tuple[list[InputImage], list[str], object]:
        """(attachments in order: the named stored images, then the uploads; notes about them; the mask)."""
        loaded, notes = [], []
        for image_id in context.get("image_ids") or []:
            row = self.store.get_image(str(image_id), owner)
            img = load_image(row.path, max_bytes=2**40, max_pixels=self.settings.max_output_pixels)
            loaded.append(InputImage(img.image, image_id=row.id, recipe=row.recipe or None, role="attachment"))
        for source, label in uploads:
            img = load_image(source, max_bytes=self.settings.max_upload_bytes,
                             max_pixels=self.settings.max_image_pixels, label=label)
            loaded.append(InputImage(img.image, image_id=None, role="attachment"))
            notes.extend(img.notes)
        return loaded, notes, self._mask(context.get("mask"))

    def _mask(self, source):
        if source is None:
            return None
        mask = load_image(source, max_bytes=self.settings.max_upload_bytes,
                          max_pixels=self.settings.max_image_pixels, label="the mask").image
        if mask.mode == "RGBA" and mask.getextrema()[3][0] < 255:
            return mask.getchannel("A")  # painted strokes on a transparent layer
        return mask.convert("L")
