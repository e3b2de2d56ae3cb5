"""Tuning the coverage thresholds of answers from claims (:mod:`retrieval.claim_answers`).

    python bench/claim_answers_tune.py [--dev-index DIR]

Tune questions: ``bench/claims/answer_questions_tune.jsonl``, attribution questions we
wrote, paraphrased, about the claims gold set's *tune* articles (g01-g10 of
``bench/claims/gold.jsonl``), with the speaker (or figure) as answer, and questions on
the same topics that no claim answers (``answers: []``). The ten articles are indexed
into a temporary archive. With ``--dev-index`` (an archive holding the dev articles, e.g.
``byline eval --index-dir``'s) it also runs the dev news questions of the train and calib
splits (never heldout) that parse as attribution questions.

For each threshold pair it prints: right / wrong / left to the reader on the answerable
tune questions, and answered on the unanswerable ones. Never run on bench/blind.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.environment import use_offline_environment  # noqa: E402

use_offline_environment()
QUESTIONS = ROOT / "bench" / "claims" / "answer_questions_tune.jsonl"
GRID = [(w, 0.34, c) for w in (0.4, 0.5, 0.6) for c in (0.0, 0.3, 0.4, 0.5)]


def _run(archive, pipeline, questions):
    import retrieval.claim_answers as ca
    from retrieval.metrics import f1_score, max_over_golds

    rows = []
    for q in questions:
        passages = pipeline.retriever.retrieve(q["question"], k=10)
        texts = archive.texts({p.article_id for p in passages[:6]})
        found = ca.claim_answer(archive, q["question"], passages, texts, pipeline.embedder)
        answer = found[0].answer if found else None
        if found:  # the cosine of the chosen claim (for the printout)
            parsed, scored, _ = ca.match_claims(archive, q["question"], passages, texts, pipeline.embedder)
            best = ca.best_match(parsed, scored)
            answer = f"{answer} (coverage {best.coverage:.2f}, cosine {best.cosine:.2f})"
        right = bool(answer and q["answers"] and max_over_golds(f1_score, found[0].answer, q["answers"]) >= 0.5)
        rows.append((q, answer, right))
    return rows


def _summary(rows) -> str:
    pos = [r for r in rows if r[0]["answers"]]
    neg = [r for r in rows if not r[0]["answers"]]
    right = sum(r[2] for r in pos)
    wrong = sum(1 for r in pos if r[1] and not r[2])
    return (f"answerable {len(pos)}: right {right}, wrong {wrong}, to reader {len(pos) - right - wrong}; "
            f"unanswerable {len(neg)}: answered {sum(1 for r in neg if r[1])}")


def main() -> None:
    """CLI entry point (see the module docstring)."""
    import retrieval.claim_answers as ca
    from bench.claims_quality import load_gold
    from config.settings import load_settings
    from corpus.loaders import ArticleFactory, load_inputs
    from index.factory import open_backend
    from retrieval.evaluation import dev_split
    from retrieval.pipeline import QAPipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-index", type=Path)
    parser.add_argument("--show", action="store_true", help="print each question's answer at the chosen thresholds")
    args = parser.parse_args()
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    gold = [a for a in load_gold() if a.get("split") == "tune"]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tune.jsonl"
        source.write_text("".join(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"],
                                              "published": a.get("published")}) + "\n" for a in gold))
        cfg = load_settings(data_dir=Path(tmp) / "data")
        archive = open_backend(cfg)
        archive.add(load_inputs([str(source)], ArticleFactory()))
        pipeline = QAPipeline(archive, cfg)
        sets = {"tune": (archive, pipeline, questions)}
        if args.dev_index:
            dev = open_backend(cfg, data_dir=args.dev_index)
            dev_q = []
            for line in (ROOT.parent / "shared" / "data" / "dev" / "questions.jsonl").read_text().splitlines():
                r = json.loads(line)
                if r["corpus"] == "news" and dev_split(r["article_id"] or r["id"]) != "heldout" \
                        and ca.parse_question(r["question"]):
                    dev_q.append({"question": r["question"], "answers": [a["text"] for a in r["answers"]]})
            sets["dev train+calib"] = (dev, QAPipeline(dev, cfg), dev_q)
        chosen = (ca.MIN_WHO_COVERAGE, ca.MIN_WHAT_COVERAGE, ca.MIN_COSINE)
        for who, what, cosine in GRID + [chosen]:
            ca.MIN_WHO_COVERAGE, ca.MIN_WHAT_COVERAGE, ca.MIN_COSINE = who, what, cosine
            for name, (arch, pipe, qs) in sets.items():
                rows = _run(arch, pipe, qs)
                mark = " (chosen)" if (who, what, cosine) == chosen else ""
                print(f"who {who:.2f} what {what:.2f} cosine {cosine:.2f} {name:16s} {_summary(rows)}{mark}", flush=True)
                if args.show and (who, what, cosine) == chosen:
                    for q, answer, right in rows:
                        print(f"   {'ok ' if right else '-- '} {q['question']} -> {answer!r} (gold {q['answers']})")


if __name__ == "__main__":
    main()
