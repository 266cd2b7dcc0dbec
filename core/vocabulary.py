"""The shared vocabulary: intent names are capability names everywhere (labels, registry, API, DB, files)."""

IMAGE_GENERATION = "image_generation"
FACE_SWAP = "face_swap"
BACKGROUND_REMOVAL = "background_removal"
OBJECT_REMOVAL = "object_removal"
STYLE_TRANSFER = "style_transfer"
UPSCALE = "upscale"
IMAGE_EDIT = "image_edit"
CHAT = "chat"

INTENTS = (IMAGE_GENERATION, FACE_SWAP, BACKGROUND_REMOVAL, OBJECT_REMOVAL, STYLE_TRANSFER, UPSCALE, IMAGE_EDIT, CHAT)

HUMAN_NAMES = {
    IMAGE_GENERATION: "Generate an image",
    FACE_SWAP: "Swap a face",
    BACKGROUND_REMOVAL: "Remove the background",
    OBJECT_REMOVAL: "Erase an object",
    STYLE_TRANSFER: "Apply an art style",
    UPSCALE: "Upscale",
    IMAGE_EDIT: "Basic edit (rotate, crop, colours…)",
    CHAT: "Just chat / help",
}

# What a capability is called in a sentence for the creator ("Image generation isn't set up on this server yet.").
CAPABILITY_NOUNS = {
    IMAGE_GENERATION: "Image generation",
    FACE_SWAP: "Face swapping",
    BACKGROUND_REMOVAL: "Background removal",
    OBJECT_REMOVAL: "Erasing objects",
    STYLE_TRANSFER: "Art styles",
    UPSCALE: "Upscaling",
    IMAGE_EDIT: "Basic editing",
    CHAT: "Chat",
}


def unavailable_sentence(name: str) -> str:
    """The one sentence a creator reads when a capability cannot run on this server."""
    return f"{CAPABILITY_NOUNS.get(name, name.replace('_', ' ').capitalize())} isn't set up on this server yet."
