"""Word lists shared by parameter extraction, prompt refinement and the router's cue features.

Colour names, art-style terms (movements, media, artists, looks), number words, the nouns people use for
"an image", and `normalise(text)` (lower case, one spelling of ×, °, quotes and dashes, single spaces). Kept in
one place so the three readers of a message agree on what a style or a colour is.
"""

from __future__ import annotations

import re

from core.quantities import NUMBER_WORDS  # noqa: F401 - one list of number words, shared with the capabilities

_SYMBOLS = {"×": "x", "°": " degrees ", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}


# Misspellings that change what a message means to the router ("blck and white" is not a background colour).
_TYPOS = re.compile(r"\b(?:blck|blak|balck|blk|bkack|blacck)\b|\b(?:whte|wht|whit|whie|wihte|whitte)\b")
_TYPO_FIX = {"blck": "black", "blak": "black", "balck": "black", "blk": "black", "bkack": "black", "blacck": "black",
             "whte": "white", "wht": "white", "whit": "white", "whie": "white", "wihte": "white", "whitte": "white"}


def normalise(text: str) -> str:
    text = (text or "").lower()
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    text = _TYPOS.sub(lambda m: _TYPO_FIX[m.group(0)], text)
    return re.sub(r"\s+", " ", text).strip()

COLOURS = (
    "white", "black", "red", "green", "blue", "yellow", "orange", "purple", "violet", "pink", "magenta", "cyan",
    "teal", "turquoise", "navy", "beige", "brown", "grey", "gray", "gold", "golden", "silver", "cream", "ivory",
    "maroon", "lime", "olive", "lavender", "mint", "peach", "coral", "charcoal grey", "off-white", "sky blue",
    "light blue", "dark blue", "light grey", "light gray", "dark grey", "dark gray", "dark green", "light green",
    "pastel pink", "baby blue", "royal blue", "hot pink", "neutral", "chroma green", "green screen",
)

# Art styles a user may name for style transfer or generation (lower case). Longer phrases are matched first.
STYLE_TERMS = (
    # artists and famous works
    "van gogh", "van gough", "vangogh", "starry night", "monet", "picasso", "klimt", "munch", "the scream",
    "hokusai", "great wave", "kandinsky", "dali", "salvador dali", "warhol", "andy warhol", "lichtenstein",
    "roy lichtenstein", "rembrandt", "da vinci", "leonardo", "vermeer", "cezanne", "matisse", "pollock",
    "mondrian", "basquiat", "banksy", "renoir", "degas", "seurat", "turner", "frida kahlo", "kahlo", "mucha",
    "escher", "magritte", "caravaggio", "botticelli", "michelangelo", "raphael", "hopper", "rockwell",
    "studio ghibli", "ghibli", "miyazaki", "pixar", "disney", "dreamworks", "simpsons", "lego", "minecraft",
    # movements and periods
    "impressionist", "impressionism", "post-impressionist", "expressionist", "expressionism", "cubist", "cubism",
    "surrealist", "surrealism", "surreal", "fauvist", "fauvism", "pointillism", "pointillist", "art nouveau",
    "art deco", "bauhaus", "baroque", "renaissance", "rococo", "romanticism", "gothic", "pop art", "pop-art",
    "abstract", "abstract expressionism", "minimalist", "minimalism", "futurism", "constructivism", "dada",
    "ukiyo-e", "ukiyoe", "ukiyo e", "ukiyo", "sumi-e", "byzantine", "medieval", "victorian",
    # media and techniques
    "oil painting", "oil paint", "oil on canvas", "acrylic", "acrylic painting", "watercolor", "watercolour",
    "watercolors", "watercolours", "watercolr", "gouache", "pastel", "pastel drawing", "pencil", "pencil sketch",
    "pencil drawing", "graphite", "charcoal", "charcoal sketch", "charcoal drawing", "sketch", "sketchy",
    "ink", "ink drawing", "pen and ink", "ink wash", "line art", "lineart", "line drawing", "crayon", "chalk",
    "chalk drawing", "woodcut", "woodblock", "woodblock print", "linocut", "engraving", "etching", "lithograph",
    "mosaic", "stained glass", "tapestry", "embroidery", "fresco", "graffiti", "street art", "mural", "collage",
    "papercut", "paper cut", "origami", "claymation", "clay", "plasticine", "felt", "needle felt", "pixel art",
    "pixel", "8-bit", "8 bit", "16-bit", "voxel", "low poly", "low-poly", "3d render", "3d", "cgi", "isometric",
    "vector", "vector art", "flat design", "flat illustration", "cel shaded", "cel-shaded",
    # looks
    "anime", "manga", "cartoon", "cartoonish", "comic", "comic book", "comics", "chibi", "kawaii", "caricature",
    "vaporwave", "synthwave", "retrowave", "cyberpunk", "steampunk", "solarpunk", "dieselpunk", "neon", "noir",
    "film noir", "vintage", "retro", "polaroid", "sepia", "fantasy", "dark fantasy", "sci-fi", "psychedelic",
    "tron", "glitch", "hologram", "holographic", "blueprint", "infrared", "thermal", "x-ray",
    "halftone", "risograph", "poster", "vintage poster", "propaganda poster", "painting", "painterly",
    "hand drawn", "hand-drawn", "doodle", "storybook", "children's book", "fairy tale", "photorealistic",
    "hyperrealistic", "realistic", "cinematic", "digital art", "digital painting", "concept art", "matte painting",
)

# Things in the background that are erased one by one ("remove the background people"), not the background.
BACKGROUND_OBJECTS = (
    "people", "person", "persons", "guy", "guys", "man", "men", "woman", "women", "tourist", "tourists", "car",
    "cars", "crowd", "sign", "signs", "building", "buildings", "object", "objects", "stuff", "clutter", "tree",
    "trees", "pedestrian", "pedestrians", "figure", "figures", "stranger", "strangers", "noise", "music", "text",
    "items", "item", "things", "distraction", "distractions", "mess", "trash", "wire", "wires", "pole", "poles",
    "logo", "logos", "watermark", "watermarks",
)

# Nouns that mean "an image" when counted ("4 images", "two versions").
IMAGE_NOUNS = (
    "images", "image", "pictures", "picture", "pics", "pic", "photos", "photo", "versions", "version",
    "variations", "variation", "variants", "variant", "options", "option", "renders", "render", "takes", "take",
    "designs", "design", "logos", "logo", "concepts", "concept", "ideas", "drafts", "alternatives", "copies",
    "samples", "shots", "illustrations", "illustration", "drawings", "drawing", "paintings", "painting",
    "wallpapers", "icons", "posters", "stickers", "avatars", "portraits", "results", "outputs", "generations",
    "tries", "attempts", "artworks", "sketches", "mockups", "thumbnails", "covers", "backgrounds",
)
