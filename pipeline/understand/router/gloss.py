"""English glosses of the parameter words of the seven other languages, so their parameters are read too.

The multilingual model decides the intent; the parameter readers (`pipeline.understand.params`, the capabilities'
parsers) read English. `gloss(text)` returns the English words for what a Spanish, French, German, Portuguese,
Italian, Japanese or Chinese message states about an edit ("gírala 90 grados a la derecha" → "rotate 90
degrees right"), an upscale factor ("el doble", "das Vierfache", "2倍"), a background ("fondo blanco",
"背景を透明に"), an art style ("acuarela", "油絵") or a count ("tres imágenes"); the router reads the message
followed by its gloss. Generic vocabulary of each language, not phrases of any test set. Pure Python.
"""

from __future__ import annotations

import re

_GLOSSES: tuple[tuple[str, str], ...] = (
    # edits
    (r"\b(?:gir[ae]\w*|rota\w*|rodar|tourn\w*|pivot\w*|dreh\w*|rotier\w*|ruot\w*|vir[ae]\w*)\b|回転|旋转", "rotate"),
    (r"\b(?:volte\w*|voltéa\w*|invierte|retourn\w*|spiegl\w*|espelh\w*|capovolg\w*|ribalt\w*|specchi\w*)\b|反転|翻转",
     "flip"),
    (r"\b(?:recort\w*|recadr\w*|zuschneid\w*|schneide\w* \w+ zu|cort[ae]\w* em|ritagli\w*)\b|トリミング|裁剪|切り抜き", "crop"),
    (r"\b(?:redimension\w*|cambia el tamaño|größe ändern|ändere die größe|ridimension\w*)\b|リサイズ|调整大小", "resize"),
    (r"\b(?:brill\w*|lumin\w*|hell\w*|aclar\w*|clar[ae]\w*|éclair\w*|schiar\w*|illumin\w*)\b|明るく|调亮|亮一点", "brighter"),
    (r"\b(?:oscur\w*|sombr\w*|assombr\w*|dunkl\w*|escure\w*|scur\w*)\b|暗く|调暗|暗一点", "darker"),
    (r"\b(?:contrast\w*|kontrast\w*)\b|コントラスト|对比度", "contrast"),
    (r"\b(?:saturaci\w*|saturat\w*|sättigung|saturação|saturazione)\b|彩度|饱和度", "saturation"),
    (r"\b(?:blanco y negro|noir et blanc|schwarz[- ]?wei(?:ß|ss)|preto e branco|bianco e nero)\b|白黒|黑白|モノクロ",
     "black and white"),
    (r"\b(?:desenfoc\w*|flout\w*|unscharf|verwisch\w*|desfoc\w*|sfoc\w*)\b|ぼかし|ぼかして|模糊", "blur"),
    (r"\b(?:nitidez|net(?:te|teté)|schärf\w*|nítid\w*|nitid\w*)\b|シャープ|锐化", "sharpen"),
    (r"\b(?:grados?|degrés?|grad|graus?|gradi)\b|度", "degrees"),
    (r"\b(?:izquierda|gauche|links|esquerda|sinistra)\b|左", "left"),
    (r"\b(?:derecha|droite|rechts|direita|destra)\b|右", "right"),
    (r"\b(?:de cabeza|à l'envers|auf den kopf|de cabeça para baixo|sottosopra)\b|逆さま|上下", "upside down"),
    (r"\b(?:cuadrad\w*|carré\w*|quadratisch\w*|quadrad\w*|quadrat\w*)\b|正方形", "square"),
    # upscale factors
    (r"\b(?:el doble|al doble|doble|double[rz]?|doppelt\w*|das doppelte|dobro|dobr[ae]|doppio|raddoppi\w*)\b|2倍|两倍|二倍",
     "2x"),
    (r"\b(?:triple|dreifach\w*|triplo|tripl\w*)\b|3倍|三倍", "3x"),
    (r"\b(?:cuádruple|cuatro veces|quadruple|vierfach\w*|das vierfache|quádruplo|quatro vezes|quadruplo|"
     r"quattro volte)\b|4倍|四倍", "4x"),
    (r"\b(?:resoluci\w*|résolution|auflösung|resolução|risoluzione)\b|解像度|分辨率|高画質|高清", "resolution"),
    # backgrounds and colours
    (r"\b(?:fondo|fond|arrière-plan|hintergrund|fundo|sfondo)\b|背景", "background"),
    (r"\b(?:transparente?|transparent|trasparente)\b|透明|透過", "transparent"),
    (r"\b(?:blanc[oa]?|blanche|wei(?:ß|ss)\w*|branc[oa]|bianc[oa])\b|白", "white"),
    (r"\b(?:negr[oa]|noire?|schwarz\w*|pret[oa]|ner[oa])\b|黒|黑", "black"),
    (r"\b(?:verde|vert|grün\w*)\b|緑|绿", "green"),
    (r"\b(?:azul|bleu|blau\w*|blu)\b|青|蓝", "blue"),
    (r"\b(?:gris|grau\w*|cinza|grigio)\b|灰", "gray"),
    # styles
    (r"\b(?:acuarela|aquarelle|aquarell|aquarela|acquerello)\b|水彩", "watercolor"),
    (r"\b(?:óleo|huile|ölgemälde|öl|olio)\b|油絵|油画", "oil painting"),
    (r"\b(?:lápiz|crayon|bleistift\w*|lápis|matita)\b|鉛筆|铅笔|素描", "pencil sketch"),
    (r"\b(?:cómic|bande dessinée|comic\w*|quadrinhos|fumett\w*|historieta)\b|漫画", "comic"),
    (r"\b(?:mosaico|mosaïque|mosaik)\b|モザイク|马赛克", "mosaic"),
    (r"アニメ|动漫|動漫", "anime"),
    (r"ゴッホ|梵高", "van gogh"),
    (r"モネ|莫奈", "monet"),
    (r"ピカソ|毕加索", "picasso"),
    (r"浮世絵|浮世绘", "ukiyo-e"),
    (r"\b(?:impresionista|impressionniste|impressionistisch\w*|impressionista)\b|印象派", "impressionist"),
    # counts
    (r"\b(?:dos|deux|zwei|duas|dois|due)\s+(?:imágenes|images|bilder|imagens|immagini|fotos|photos|foto|versiones|"
     r"versions|varianten|versões|versioni)\b|2枚|两张|二张", "2 images"),
    (r"\b(?:tres|trois|drei|três|tre)\s+(?:imágenes|images|bilder|imagens|immagini|fotos|photos|foto|versiones|"
     r"versions|varianten|versões|versioni)\b|3枚|三张", "3 images"),
    (r"\b(?:cuatro|quatre|vier|quatro|quattro)\s+(?:imágenes|images|bilder|imagens|immagini|fotos|photos|foto)\b|"
     r"4枚|四张", "4 images"),
)
_COMPILED = tuple((re.compile(pattern, re.I), english) for pattern, english in _GLOSSES)
_ARABIC_DEGREES = re.compile(r"(\d{1,3})\s*(?:grados?|degrés?|grad|graus?|gradi|度)", re.I)
_FACTOR = re.compile(r"(\d)\s*(?:veces|fois|mal|vezes|volte|倍)", re.I)


def gloss(text: str) -> str:
    """English words for the parameters `text` states (empty when it states none)."""
    lowered = (text or "").lower()
    words = []
    for pattern, english in _COMPILED:
        if pattern.search(lowered) and english not in words:
            words.append(english)
    for match in _ARABIC_DEGREES.finditer(lowered):
        words.append(f"{match.group(1)} degrees")
    for match in _FACTOR.finditer(lowered):
        words.append(f"{match.group(1)}x")
    return " ".join(words)
