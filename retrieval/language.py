"""Is a question in English? A script and stop-word heuristic, no model and no download.

Byline's default models read English only (MiniLM embeddings, the English BM25 stemmer,
the trained reader and spaCy's English pipeline), so a question in another language
would only find unrelated passages. :func:`non_english_language` names the language of
a question that is clearly not English, so that the pipeline can say so instead of
"the articles do not say".

- A question mostly in a non-Latin script (Chinese, Japanese, Korean, Cyrillic, Greek,
  Arabic, Hebrew, Devanagari, Thai) is not English.
- A Latin-script question is not English when words of one other language's closed
  class (articles, pronouns, question words, auxiliaries) clearly outnumber English
  ones: at least two of them and more than twice the English count. Names and single
  borrowed words ("Who is Jean de la Fontaine?", "What is a coup d'état?") stay English.
"""

from __future__ import annotations

import re
import unicodedata

# Scripts by the first word of their Unicode character names.
_SCRIPTS = {
    "CJK": "Chinese", "HIRAGANA": "Japanese", "KATAKANA": "Japanese", "HANGUL": "Korean",
    "CYRILLIC": "Russian (Cyrillic script)", "GREEK": "Greek", "ARABIC": "Arabic", "HEBREW": "Hebrew",
    "DEVANAGARI": "Hindi (Devanagari script)", "THAI": "Thai",
}

_ENGLISH = set("""
a an the who whom whose what which when where why how is are was were be been being do does did
has have had of in on at to for from by with about into over after before than that this these
those it its he she they his her their there and or not many much did will would could should
can may says said according year years
""".split())

_STOP_WORDS = {
    "German": set("""
        der die das den dem des ein eine einer eines einem wer wen wem wessen was wann wo wie warum
        welche welcher welches ist sind war waren wurde wurden hat haben hatte und oder nicht mit von
        für auf bei nach über aus zum zur im am vom sich auch noch viele wieviel wie viele gibt es
        """.split()),
    "French": set("""
        le la les un une des du au aux qui que quoi quand où comment pourquoi quel quelle quels
        quelles est sont était étaient a ont été et ou pas ne avec pour sur dans par ce cette ces
        il elle ils elles combien y qu est-ce
        """.split()),
    "Spanish": set("""
        el la los las un una unos unas del al quién quiénes qué cuándo dónde cómo por qué cuál
        cuáles cuánto cuántos cuántas es son era eran fue fueron ha han y o no con para sobre en
        según hay se su sus
        """.split()),
    "Italian": set("""
        il lo la gli le un uno una del della dei degli delle chi che cosa quando dove come perché
        quale quali quanto quanti è sono era erano ha hanno e o non con per su nel nella alla
        """.split()),
    "Portuguese": set("""
        o a os as um uma do da dos das quem que quando onde como por porquê qual quais quanto
        quantos é são era eram foi foram tem têm e ou não com para sobre em no na nos nas
        """.split()),
    "Dutch": set("""
        de het een wie wat wanneer waar hoe waarom welke welk is zijn was waren heeft hebben en of
        niet met voor op bij naar van uit er hoeveel
        """.split()),
}

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)


def _script_language(question: str) -> str | None:
    """The language of a non-Latin script holding most of the question's letters."""
    counts: dict[str, int] = {}
    letters = 0
    for ch in question:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        first = name.split(" ", 1)[0]
        language = _SCRIPTS.get(first)
        if language is None and name.startswith("CJK"):
            language = "Chinese"
        if language:
            counts[language] = counts.get(language, 0) + 1
    if not letters or not counts:
        return None
    language, n = max(counts.items(), key=lambda kv: kv[1])
    if "Japanese" in counts and language == "Chinese":
        language = "Japanese"  # kanji with kana is Japanese
    return language if n * 2 >= letters else None


def non_english_language(question: str) -> str | None:
    """The name of the language ``question`` is written in when it is clearly not
    English (e.g. ``"German"``, ``"Chinese"``), else None (English, or too short to tell)."""
    by_script = _script_language(question)
    if by_script:
        return by_script
    words = [w.casefold().replace("’", "'") for w in _WORD.findall(question)]
    if not words:
        return None
    english = sum(w in _ENGLISH for w in words)
    best, best_count = None, 0
    for language, stop_words in _STOP_WORDS.items():
        count = sum(w in stop_words for w in words)
        if count > best_count:
            best, best_count = language, count
    if best_count >= 2 and best_count > 2 * english:
        return best
    if best and question.lstrip().startswith(("¿", "¡")):
        return "Spanish"
    return None


def english_only_reply(language: str) -> str:
    """What the archive answers to a question in ``language``."""
    return (f"This archive's model answers questions in English only, and this question looks like "
            f"{language}. Please ask it in English.")
