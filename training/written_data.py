"""Reader training examples from our own written QA sets (``training/written/``).

Each set is a pair ``PREFIX.articles.jsonl`` / ``PREFIX.questions.jsonl`` in the blind
set's format, checked by ``training/validate_written.py``: fictional news articles and
paraphrased questions written for Byline by helper sessions that never saw the reader,
its dev set or ``bench/blind``. Licence: ours (the repository's).

Split by **article** with the dev set's hash (``training.splits.split_of``): articles
whose split is ``heldout`` (20 %) are never trained on; they are the ``written-heldout``
figures of ``training/sweep_reader.py``; the other 80 % are trained on.
"""

from __future__ import annotations

import random
from pathlib import Path

from training.splits import read_jsonl, split_of

__all__ = ["WRITTEN_DIR", "written_split", "load_written", "written_examples"]

WRITTEN_DIR = Path(__file__).parent / "written"
CONTEXT_CHARS = 1500  # as the dev news examples (build_reader_data.NEWS_CONTEXT_CHARS)


def written_split(article_id: str) -> str:
    """``"train"`` or ``"heldout"`` for a written article id (dev hash; calib joins train)."""
    return "heldout" if split_of(article_id) == "heldout" else "train"


def load_written(written_dir: Path = WRITTEN_DIR) -> tuple[dict[str, dict], list[dict]]:
    """All written articles (by id) and questions; a bad line raises ``ValueError`` naming it."""
    articles: dict[str, dict] = {}
    questions: list[dict] = []
    for apath in sorted(written_dir.glob("*.articles.jsonl")):
        for a in read_jsonl(apath):
            articles[a["id"]] = a
        qpath = apath.with_name(apath.name.replace(".articles.", ".questions."))
        if qpath.exists():
            questions.extend(read_jsonl(qpath))
    return articles, questions


def _window(text: str, start: int, end: int, rng: random.Random) -> tuple[int, int]:
    """About ``CONTEXT_CHARS`` characters holding ``[start, end)`` at a random place."""
    room = max(0, CONTEXT_CHARS - (end - start))
    lo = max(0, start - int(rng.random() * room))
    return lo, min(len(text), max(end, lo + CONTEXT_CHARS))


def written_examples(split: str, rng: random.Random, written_dir: Path = WRITTEN_DIR) -> list[dict]:
    """Examples ``{"question", "context", "answer_start", "answer_text", "origin"}`` of the
    written questions whose article is in ``split`` (``"train"`` / ``"heldout"``).

    An answerable question gets a ~1,500-character window around its first answer; a decoy
    a random window of its own article (it asks what the article does not say); an
    off-topic question a random window of a random article of the same split.
    """
    articles, questions = load_written(written_dir)
    pool = sorted(a for a in articles if written_split(a) == split)
    out: list[dict] = []
    for q in questions:
        aid = q.get("article_id")
        if aid is None or aid not in articles:
            if not pool or split != ("heldout" if split_of(q["id"]) == "heldout" else "train"):
                continue
            aid = rng.choice(pool)
        elif written_split(aid) != split:
            continue
        text = articles[aid]["text"]
        if q["answerable"]:
            ans = q["answers"][0]
            lo, hi = _window(text, ans["start"], ans["start"] + len(ans["text"]), rng)
            out.append({"question": q["question"], "context": text[lo:hi], "answer_start": ans["start"] - lo,
                        "answer_text": ans["text"], "origin": "written"})
        else:
            lo = rng.randrange(0, max(1, len(text) - CONTEXT_CHARS))
            out.append({"question": q["question"], "context": text[lo:lo + CONTEXT_CHARS], "answer_start": None,
                        "answer_text": None, "origin": "written-noanswer"})
    return out
