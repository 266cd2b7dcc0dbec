"""The built-in style presets (the seed's prompt templates) and `seed_templates(store)` to upsert them.

A preset is a row of the `prompt_templates` table: a `{prompt}` template that adds the medium and the quality
terms that suit it, a negative prompt of that style's usual failures, and `tags` — the words in a message
that select it ("watercolour", "aquarelle" → watercolor). Written for this project; no text is taken from
Fooocus or other prompt expanders.
"""

from __future__ import annotations

_BASE_NEGATIVE = "lowres, blurry, jpeg artifacts, watermark, signature, text, deformed, bad anatomy"

PRESETS: tuple[dict, ...] = (
    dict(name="photographic", description="Natural photograph, realistic light and detail",
         template="{prompt}, professional photograph, natural lighting, sharp focus, high detail, 50mm lens",
         negative="painting, illustration, cartoon, drawing, cgi, oversaturated, " + _BASE_NEGATIVE,
         tags=["photo", "photograph", "photographic", "photorealistic", "photo-realistic", "realistic", "dslr",
               "35mm", "film photo", "real life", "hyperrealistic", "hyper-realistic", "product photo",
               "food photography", "macro shot", "portrait photo"],
         examples=["a photo of a fox in the snow"]),
    dict(name="cinematic", description="Film still: dramatic light, shallow depth of field",
         template="cinematic film still of {prompt}, dramatic lighting, shallow depth of field, anamorphic, "
                  "color graded, highly detailed",
         negative="cartoon, illustration, flat lighting, " + _BASE_NEGATIVE,
         tags=["cinematic", "movie still", "film still", "movie scene", "epic shot", "blockbuster"],
         examples=["a cinematic shot of a detective in the rain"]),
    dict(name="anime", description="Japanese anime key visual",
         template="anime key visual of {prompt}, clean line art, cel shading, vibrant colors, highly detailed",
         negative="photo, realistic, 3d render, " + _BASE_NEGATIVE,
         tags=["anime", "animé", "japanese animation", "waifu", "chibi", "kawaii"],
         examples=["an anime girl with blue hair under cherry blossoms"]),
    dict(name="manga", description="Black-and-white manga page",
         template="manga illustration of {prompt}, black and white ink, screentone shading, dynamic composition",
         negative="color, photo, realistic, 3d render, " + _BASE_NEGATIVE,
         tags=["manga", "manhwa"], examples=["a manga panel of a samurai"]),
    dict(name="watercolor", description="Soft watercolour painting on paper",
         template="watercolor painting of {prompt}, soft washes, visible paper texture, delicate brushwork, "
                  "gentle colors",
         negative="photo, 3d render, harsh lines, " + _BASE_NEGATIVE,
         tags=["watercolor", "watercolour", "watercolors", "watercolours", "aquarelle", "watercolr"],
         examples=["a watercolor of a hummingbird"]),
    dict(name="oil painting", description="Classical oil on canvas",
         template="oil painting of {prompt}, oil on canvas, rich textured brushstrokes, classical composition, "
                  "fine art, masterpiece",
         negative="photo, 3d render, flat colors, " + _BASE_NEGATIVE,
         tags=["oil painting", "oil on canvas", "oil paint", "oil-painting", "impasto", "old master"],
         examples=["an oil painting of a stormy sea"]),
    dict(name="impressionist", description="Impressionist painting, loose light-filled strokes",
         template="impressionist painting of {prompt}, loose visible brushstrokes, dappled light, vivid color, "
                  "en plein air",
         negative="photo, sharp lines, 3d render, " + _BASE_NEGATIVE,
         tags=["impressionist", "impressionism", "monet", "renoir", "van gogh", "post-impressionist"],
         examples=["an impressionist garden with a bridge"]),
    dict(name="pixel art", description="Retro pixel art",
         template="pixel art of {prompt}, 16-bit, crisp pixels, limited palette, retro video game style",
         negative="blurry, smooth gradients, photo, realistic, 3d render, watermark, text",
         tags=["pixel art", "pixel-art", "pixelart", "8-bit", "8 bit", "16-bit", "16 bit", "sprite", "retro game"],
         examples=["pixel art of a haunted house"]),
    dict(name="3d render", description="Polished 3D render",
         template="3d render of {prompt}, octane render, global illumination, soft shadows, highly detailed, "
                  "studio lighting",
         negative="photo, painting, sketch, flat, " + _BASE_NEGATIVE,
         tags=["3d render", "3d", "3d-render", "cgi", "octane", "blender", "unreal engine", "pixar", "render"],
         examples=["a 3d render of a cute mushroom character"]),
    dict(name="isometric", description="Isometric diorama",
         template="isometric 3d illustration of {prompt}, miniature diorama, clean edges, soft lighting, "
                  "highly detailed",
         negative="perspective distortion, photo, " + _BASE_NEGATIVE,
         tags=["isometric", "diorama", "isometric room"], examples=["an isometric tiny office"]),
    dict(name="low poly", description="Faceted low-poly 3D art",
         template="low poly 3d art of {prompt}, faceted geometry, flat shading, minimal, clean pastel colors",
         negative="photo, realistic textures, " + _BASE_NEGATIVE,
         tags=["low poly", "low-poly", "lowpoly", "polygonal"], examples=["a low poly fox"]),
    dict(name="line art", description="Clean black line drawing",
         template="line art drawing of {prompt}, clean black ink lines, white background, minimal, precise",
         negative="color, shading, photo, 3d render, " + _BASE_NEGATIVE,
         tags=["line art", "lineart", "line drawing", "line-art", "outline drawing", "coloring page",
               "colouring page"], examples=["line art of a hand holding a pen"]),
    dict(name="pencil sketch", description="Graphite pencil sketch",
         template="pencil sketch of {prompt}, graphite on paper, detailed hatching, hand drawn",
         negative="color, photo, 3d render, " + _BASE_NEGATIVE,
         tags=["pencil sketch", "pencil drawing", "pencil", "graphite", "sketch", "sketched", "hand drawn",
               "hand-drawn"], examples=["a pencil sketch of an old barn"]),
    dict(name="charcoal", description="Expressive charcoal drawing",
         template="charcoal drawing of {prompt}, expressive smudged strokes, high contrast, textured paper",
         negative="color, photo, 3d render, " + _BASE_NEGATIVE,
         tags=["charcoal", "charcoal sketch", "charcoal drawing"], examples=["a charcoal sketch of a face"]),
    dict(name="comic book", description="Western comic book art",
         template="comic book art of {prompt}, bold ink outlines, halftone shading, dynamic pose, vibrant colors",
         negative="photo, realistic, 3d render, " + _BASE_NEGATIVE,
         tags=["comic", "comic book", "comics", "graphic novel", "superhero comic", "comic panel"],
         examples=["a comic book panel of a superhero"]),
    dict(name="pop art", description="Bold pop art print",
         template="pop art of {prompt}, bold flat colors, halftone dots, thick outlines, screen print style",
         negative="photo, realistic, muted colors, " + _BASE_NEGATIVE,
         tags=["pop art", "pop-art", "warhol", "lichtenstein"], examples=["a pop art portrait"]),
    dict(name="cartoon", description="Friendly cartoon illustration",
         template="cartoon illustration of {prompt}, playful, bold clean outlines, bright flat colors",
         negative="photo, realistic, gritty, " + _BASE_NEGATIVE,
         tags=["cartoon", "cartoonish", "toon", "disney", "animated"], examples=["a cartoon frog playing guitar"]),
    dict(name="digital art", description="Polished digital painting",
         template="digital painting of {prompt}, highly detailed, vibrant colors, artstation, sharp focus",
         negative="photo, " + _BASE_NEGATIVE,
         tags=["digital art", "digital painting", "digital illustration", "artstation"],
         examples=["a cat astronaut, digital art"]),
    dict(name="fantasy art", description="Epic fantasy illustration",
         template="epic fantasy art of {prompt}, magical atmosphere, dramatic lighting, intricate detail, "
                  "concept art",
         negative="photo, modern, mundane, " + _BASE_NEGATIVE,
         tags=["fantasy", "fantasy art", "dark fantasy", "magical", "wizard", "dragon", "elf", "concept art",
               "matte painting"], examples=["a fantasy castle in the clouds"]),
    dict(name="cyberpunk", description="Neon-lit cyberpunk",
         template="cyberpunk {prompt}, neon lights, rain-slick streets, high tech, moody atmosphere, "
                  "highly detailed",
         negative="daylight, rustic, " + _BASE_NEGATIVE,
         tags=["cyberpunk", "neon", "blade runner", "synthwave", "vaporwave", "retrowave"],
         examples=["a cyberpunk city street at night"]),
    dict(name="steampunk", description="Victorian brass-and-gears steampunk",
         template="steampunk {prompt}, brass and copper gears, victorian machinery, warm sepia tones, intricate",
         negative="modern, minimal, " + _BASE_NEGATIVE,
         tags=["steampunk", "clockwork", "dieselpunk"], examples=["a steampunk airship"]),
    dict(name="ukiyo-e", description="Japanese woodblock print",
         template="ukiyo-e woodblock print of {prompt}, flat color areas, bold outlines, traditional japanese "
                  "composition, paper texture",
         negative="photo, 3d render, " + _BASE_NEGATIVE,
         tags=["ukiyo-e", "ukiyoe", "ukiyo e", "ukiyo", "woodblock", "woodblock print", "hokusai", "japanese print"],
         examples=["a ukiyo-e wave with mount fuji"]),
    dict(name="stained glass", description="Stained glass window",
         template="stained glass window depicting {prompt}, vivid translucent colors, lead lines, backlit glow",
         negative="photo, " + _BASE_NEGATIVE, tags=["stained glass", "stained-glass", "church window"],
         examples=["a stained glass peacock"]),
    dict(name="minimalist", description="Minimal flat design",
         template="minimalist flat illustration of {prompt}, simple shapes, limited palette, lots of negative "
                  "space, clean",
         negative="cluttered, detailed texture, photo, " + _BASE_NEGATIVE,
         tags=["minimalist", "minimal", "minimalism", "flat design", "flat illustration", "vector", "vector art"],
         examples=["a minimalist mountain poster"]),
    dict(name="vintage photo", description="Old analog photograph",
         template="vintage photograph of {prompt}, analog film grain, faded colors, 1970s, soft vignette",
         negative="digital, modern, oversaturated, " + _BASE_NEGATIVE,
         tags=["vintage", "retro photo", "old photo", "polaroid", "analog", "film grain", "sepia", "1950s",
               "1970s", "1920s"], examples=["new york in the 1950s, vintage photograph"]),
    dict(name="children's book", description="Warm storybook illustration",
         template="children's book illustration of {prompt}, whimsical, soft gouache textures, warm friendly "
                  "colors",
         negative="scary, gritty, photo, " + _BASE_NEGATIVE,
         tags=["children's book", "childrens book", "storybook", "picture book", "for kids", "nursery",
               "fairy tale", "bedtime story"], examples=["a bear having a picnic, children's book"]),
    dict(name="logo", description="Clean vector logo",
         template="{prompt}, vector logo design, flat, simple iconic shapes, centered, plain background, "
                  "professional branding",
         negative="photo, realistic, cluttered, gradient mess, 3d render, blurry, watermark",
         tags=["logo", "emblem", "brand mark", "app icon", "icon", "monogram"],
         examples=["a logo for a bakery named Sweet Crumbs"]),
    dict(name="sticker", description="Die-cut sticker",
         template="die-cut sticker of {prompt}, thick white border, bold outlines, flat vibrant colors, "
                  "simple background",
         negative="photo, realistic, cluttered background, " + _BASE_NEGATIVE,
         tags=["sticker", "stickers", "emoji", "decal"], examples=["a sticker of a happy avocado"]),
    dict(name="surreal", description="Dreamlike surrealism",
         template="surrealist painting of {prompt}, dreamlike, impossible juxtapositions, soft dramatic light, "
                  "highly detailed",
         negative="mundane, " + _BASE_NEGATIVE,
         tags=["surreal", "surrealist", "surrealism", "dali", "dreamlike", "magritte"],
         examples=["a surreal melting clock in a desert"]),
    dict(name="claymation", description="Stop-motion clay figures",
         template="claymation scene of {prompt}, plasticine figures, handmade stop motion look, soft studio light",
         negative="photo, 2d, flat, " + _BASE_NEGATIVE,
         tags=["claymation", "clay", "plasticine", "stop motion", "stop-motion"],
         examples=["a claymation fox baking bread"]),
)

# Quality terms when no preset is named: general, style-neutral.
DEFAULT_QUALITY = "highly detailed, sharp focus, balanced composition, beautiful lighting"
DEFAULT_NEGATIVE = _BASE_NEGATIVE


def seed_templates(store) -> int:
    """Upsert every built-in preset into the store's prompt_templates table; returns how many."""
    for preset in PRESETS:
        store.upsert_template(preset["name"], description=preset["description"], category="style",
                              template=preset["template"], negative=preset["negative"],
                              examples=preset.get("examples", ()), tags=preset.get("tags", ()), is_active=True)
    return len(PRESETS)
