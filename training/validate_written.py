"""Check a written reader-training set (articles + questions in the dev/blind format).

    python -m training.validate_written training/written/part-a

Reads ``PREFIX.articles.jsonl`` (``{"id", "title", "text", "date"}``) and
``PREFIX.questions.jsonl`` (``{"id", "article_id", "question", "answers": [{"text",
"start"}], "answerable", "kind"}``) and raises ``SystemExit`` with the file, line and field
of the first problem: an unknown article, an answer whose ``text`` is not
``article.text[start:start + len(text)]``, an unanswerable question with answers, a
duplicate id, or an answerable question sharing 5+ consecutive words with its article
(questions are to be paraphrased, as in ``bench/blind``). Prints counts by kind.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["validate", "KINDS"]

KINDS = {"who-attribution", "who", "when", "how-many", "how-much", "where", "what", "decoy", "off-topic"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _read(path: Path) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{n}: not JSON ({exc})") from exc
    return rows


def validate(prefix: str) -> Counter:
    """Validate one written set; returns question counts by kind. Errors: ``SystemExit``."""
    apath, qpath = Path(prefix + ".articles.jsonl"), Path(prefix + ".questions.jsonl")
    articles: dict[str, str] = {}
    for n, a in _read(apath):
        for field in ("id", "title", "text"):
            if not isinstance(a.get(field), str) or not a[field]:
                raise SystemExit(f"{apath}:{n}: field {field!r} missing or empty")
        if a["id"] in articles:
            raise SystemExit(f"{apath}:{n}: duplicate article id {a['id']!r}")
        articles[a["id"]] = a["text"]
    kinds: Counter = Counter()
    seen: set[str] = set()
    for n, q in _read(qpath):
        where = f"{qpath}:{n}"
        if q.get("id") in seen:
            raise SystemExit(f"{where}: duplicate question id {q.get('id')!r}")
        seen.add(q.get("id"))
        if q.get("kind") == "off-topic" and q.get("article_id") is None and not q.get("answerable"):
            kinds["off-topic"] += 1
            continue
        text = articles.get(q.get("article_id"))
        if text is None:
            raise SystemExit(f"{where}: field 'article_id' names no article: {q.get('article_id')!r}")
        if q.get("kind") not in KINDS:
            raise SystemExit(f"{where}: field 'kind' must be one of {sorted(KINDS)}, got {q.get('kind')!r}")
        if not isinstance(q.get("question"), str) or not q["question"].strip():
            raise SystemExit(f"{where}: field 'question' missing")
        answers = q.get("answers")
        if q.get("answerable") is not True and q.get("answerable") is not False:
            raise SystemExit(f"{where}: field 'answerable' must be true or false")
        if not q["answerable"]:
            if answers:
                raise SystemExit(f"{where}: unanswerable question has answers")
        else:
            if not answers:
                raise SystemExit(f"{where}: answerable question has no answers")
            for a in answers:
                s, t = a.get("start"), a.get("text")
                if not isinstance(s, int) or not isinstance(t, str) or text[s:s + len(t)] != t:
                    raise SystemExit(f"{where}: answer {t!r} is not the article's text at start={s!r}"
                                     f" (found {text[s:s + len(t or '')]!r}; first occurrence at {text.find(t or '')})")
            qw, aw = _words(q["question"]), _words(text)
            grams = {tuple(aw[i:i + 5]) for i in range(len(aw) - 4)}
            if any(tuple(qw[i:i + 5]) in grams for i in range(len(qw) - 4)):
                raise SystemExit(f"{where}: question copies 5+ consecutive words of its article; paraphrase it")
        kinds[q["kind"]] += 1
    return kinds


if __name__ == "__main__":
    for prefix in sys.argv[1:]:
        counts = validate(prefix)
        print(prefix, sum(counts.values()), "questions", dict(counts))
