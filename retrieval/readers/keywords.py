"""Question keywords for the offline reader: Snowball stems, keyword weights and the
weighted keyword coverage of a piece of text."""

from __future__ import annotations

from retrieval.question import QuestionAnalysis, content_words

_STEMMER = None


def stem_words(words: list[str]) -> list[str]:
    """Snowball (Porter 2) English stems via PyStemmer; identity if it is missing."""
    global _STEMMER
    if _STEMMER is None:
        try:
            import Stemmer

            _STEMMER = Stemmer.Stemmer("english")
        except ImportError:  # pragma: no cover
            _STEMMER = False
    return _STEMMER.stemWords(words) if _STEMMER else list(words)


GENERIC_HEADS = frozenset("""percentage percent number amount figure total count sum price cost year
    date time age rate share value worth""".split())


def keyword_weights(qa: QuestionAnalysis) -> dict[str, float]:
    """Stemmed question keywords -> weight (names and numbers count double; the head noun
    of a numeric question counts too, "how many *minutes*")."""
    names = {n.lower().replace("’", "'") for n in qa.names}
    weights: dict[str, float] = {}
    stems = stem_words(list(qa.keywords))
    for word, stem in zip(qa.keywords, stems):
        w = 2.0 if (word in names or any(c.isdigit() for c in word)) else 1.0
        weights[stem] = max(weights.get(stem, 0.0), w)
    if qa.wants_number and qa.head and qa.head not in GENERIC_HEADS:  # "population", "minutes"
        weights.setdefault(stem_words([qa.head])[0], 1.0)
    return weights


def keyword_coverage(stems: set[str], weights: dict[str, float]) -> float:
    """Weighted share of question keywords present in ``stems`` (0..1)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for s, w in weights.items() if s in stems) / total


def stems_of(text: str) -> list[str]:
    """Stems of the content words of ``text``."""
    return stem_words(content_words(text))
