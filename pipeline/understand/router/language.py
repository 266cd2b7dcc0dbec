"""Which language a chat message is written in: English or one of the seven the router also understands.

`detect_language(text)` answers "en", "es", "fr", "de", "pt", "it", "ja" or "zh" in microseconds: kana means
Japanese, Han characters without kana Chinese; Latin-script text is scored by its function words and common
command words per language plus the letters only some languages use (ñ ¿ ¡, ç œ, ß ä ö ü, ã õ, ò ì). English wins
ties and messages with no evidence either way ("upscale 4x", "a cyberpunk city"), so English requests keep the
English router. The word lists are generic vocabulary of each language, not phrases of any test set.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "ja", "zh")
NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
         "ja": "Japanese", "zh": "Chinese"}

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

_WORDS = {
    "en": """the a an and of to it its this that these those is are be with in on for me my you your please pls
        can could would make remove background picture image photo draw create generate upscale rotate crop flip
        into from like look style what how do does hi hello thanks thank from out off up some more less bit
        black white turn give get rid erase delete i want need let put add change convert""",
    "es": """el la los las lo le les del al un una unos unas y o en con por para que qué esta este esto estos esa
        ese eso mi mis tu tus su sus sin como más muy puedes puede quiero quita quitar quítale elimina eliminar
        borra borrar hazla hazlo haz hazme pon ponla ponle ponlo dibuja dibújame crea créame genera genérame imagen
        foto fondo favor gracias hola gírala gira gíralo blanco negro grande agranda amplía amplíala cambia
        cara estilo dale sube baja también luego después recorta recórtala mejora aumenta reduce bien buenos
        buenas días noches qué cómo eres sabes hacer""",
    "fr": """le la les l un une des du de d et ou en avec pour que qui quoi ce cet cette ces mon ma mes ton ta tes
        son sa ses sans comme plus très peux peut veux voudrais enlève enlever retire retirer supprime supprimer
        efface effacer fais fait fais-moi mets mets-la mets-le dessine dessine-moi crée créer génère générer image
        photo fond arrière plan arrière-plan s'il te vous plaît merci bonjour salut noir blanc visage style
        transforme transforme-la rends rends-la agrandis agrandir tourne recadre puis ensuite aussi est c'est
        qu'est-ce sais faire ça""",
    "de": """der die das den dem des ein eine einen einem einer und oder mit für von vom zum zur im in auf aus
        bitte entferne entfernen lösche löschen mach mache mach's erstelle erstellen zeichne zeichnen generiere
        male bild foto hintergrund mehr kannst du danke hallo ist ohne wie stil schwarz weiß weiss mein meine
        dein deine es sie er doppelt größer vergrößere vergrößern drehe dreh spiegle schneide gesicht tausche
        dann danach auch noch etwas bisschen nicht was wie hilfe tschüss gerne""",
    "pt": """o a os as um uma uns umas e ou de do da dos das em no na nos nas com por para que essa esse isso esta
        este isto meu minha meus minhas seu sua sem como mais muito pode quero tire tira tirar remova remover
        apague apaga faça faz desenhe desenha crie cria gere gera imagem foto fundo favor obrigado obrigada olá
        oi preto branco rosto cara estilo deixe deixa depois também aumente aumenta diminua gire gira vire você
        bom dia tudo bem""",
    "it": """il lo la i gli le un uno una di del dello della dei degli delle e o in nel nella con per che questa
        questo quella quello mio mia miei mie tuo tua suo sua senza come più molto puoi può voglio togli
        togliere rimuovi rimuovere elimina eliminare cancella fai fammi falla fallo metti mettila disegna
        disegnami crea genera immagine foto sfondo favore grazie ciao nero bianco viso faccia volto stile rendila
        trasformala ingrandisci ruota girala ritaglia poi anche dopo cosa sai fare buongiorno""",
}
_LETTERS = {"es": "ñ¿¡", "fr": "çœèêëîïûù", "de": "ßäöü", "pt": "ãõç", "it": "òìù"}
# Words written the same in English and another language count for English only when nothing else speaks.
_SHARED = {"a", "in", "image", "photo", "style", "me", "no", "do", "come", "con", "e", "o"}
_VOCABULARY = {lang: frozenset(words.split()) for lang, words in _WORDS.items()}


def detect_language(text: str) -> str:
    """The language of `text`: one of LANGUAGES ("en" when nothing points elsewhere)."""
    if not text:
        return "en"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    lowered = text.lower()
    words = _WORD.findall(lowered)
    scores = {lang: 0.0 for lang in _VOCABULARY}
    for word in words:
        if word in _SHARED:
            continue
        for lang, vocabulary in _VOCABULARY.items():
            if word in vocabulary:
                scores[lang] += 1.0
    for lang, letters in _LETTERS.items():
        if any(ch in lowered for ch in letters):
            scores[lang] += 1.5
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    if best == "en" or scores[best] <= scores["en"]:
        return "en"
    return best
