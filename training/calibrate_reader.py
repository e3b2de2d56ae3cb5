"""Fit the trained reader's confidence model and outcome thresholds on the dev **calib**
split (articles the span model never trained on), and write ``calibration.json`` beside
the weights.

    python -m training.calibrate_reader [--model-dir retrieval/readers/models/byline-reader-minilm]

For every calib question (news and SQuAD pages; ~650 questions, ~4 minutes on 2 cores) the
hybrid retriever's passages are read by :class:`~retrieval.readers.trained.TrainedReader`
and every span that passes the answer rules becomes one row of features
(:data:`~retrieval.readers.trained.FEATURES`), labelled 1 when it is right (token F1 >= 0.5
against a gold answer of the question's own article) and 0 otherwise (all spans of
unanswerable questions are 0). A logistic regression (L2, Newton steps, numpy) is fitted on
the rows; news rows weigh 3x so that the small news part is not swamped by the SQuAD pages.

Thresholds, at the question level (the reader answers with its most confident span):
``answer_threshold`` is the lowest threshold at which >= 85 % of answered calib questions
are right (the issue's target) or, where no threshold reaches it, the one with the most
right-minus-wrong answers (precision >= 0.5), ``uncertain_threshold`` the lowest at which the questions
between the two are right at least 35 % of the time (worth showing, labelled uncertain).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from training.harness import DEV_DIR, open_eval_archive
from training.splits import question_split, read_jsonl

__all__ = ["fit_logistic", "choose_thresholds", "main"]

NEWS_WEIGHT = 3.0
TARGET_PRECISION = 0.85
UNCERTAIN_PRECISION = 0.35


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method; ``x`` is (n, d), ``y`` in {0, 1}.
    Returns ``(coefficients (d,), bias)`` for standardised-free raw features."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = np.eye(d + 1) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (w * (p - y)) + reg @ beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta[:-1], float(beta[-1])


def choose_thresholds(conf: list[float], right: list[bool]) -> tuple[float, float]:
    """``(answer_threshold, uncertain_threshold)`` from question-level confidences and
    correctness (see the module docstring)."""
    grid = sorted(set(round(c, 3) for c in conf))
    answer_t = 0.99
    for t in grid:
        picked = [r for c, r in zip(conf, right) if c >= t]
        if len(picked) >= 5 and sum(picked) / len(picked) >= TARGET_PRECISION:
            answer_t = t
            break
    if answer_t == 0.99:
        # The target is out of reach: answer where a right answer is more likely than a
        # wrong one (precision >= 0.5), the break-even of +1 right / -1 wrong.
        best = (0.0, 0.99)
        for t in grid:
            picked = [r for c, r in zip(conf, right) if c >= t]
            gain = sum(picked) - (len(picked) - sum(picked))
            if picked and gain > best[0]:
                best = (gain, t)
        answer_t = best[1]
    uncertain_t = answer_t
    for t in grid:
        if t >= answer_t:
            break
        band = [r for c, r in zip(conf, right) if t <= c < answer_t]
        if band and sum(band) / len(band) >= UNCERTAIN_PRECISION:
            uncertain_t = t
            break
    return answer_t, uncertain_t


def main(argv: list[str] | None = None) -> None:
    """CLI entry point (see the module docstring)."""
    from config.settings import load_settings
    from retrieval.metrics import f1_score
    from retrieval.pipeline import QAPipeline
    from retrieval.readers.trained import DEFAULT_MODEL_DIR, FEATURES, TrainedReader

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--dev", type=Path, default=DEV_DIR)
    parser.add_argument("--limit-wiki", type=int, default=400, help="at most N SQuAD-page questions")
    args = parser.parse_args(argv)

    cfg = load_settings()
    archive = open_eval_archive([args.dev / "articles.jsonl"], cfg)
    (args.model_dir / "calibration.json").unlink(missing_ok=True)
    from retrieval.readers.offline import OfflineReader

    reader = TrainedReader(args.model_dir, spacy_model=cfg.reader.spacy_model,
                           rules_reader=OfflineReader(archive.embedder, spacy_model=cfg.reader.spacy_model))
    pipeline = QAPipeline(archive, cfg, reader=reader)
    questions = [q for q in read_jsonl(args.dev / "questions.jsonl") if question_split(q) == "calib"]
    news = [q for q in questions if q["corpus"] == "news"]
    wiki = [q for q in questions if q["corpus"] != "news"][: args.limit_wiki]
    rows, labels, weights, per_question = [], [], [], []
    from tqdm import tqdm

    for q in tqdm(news + wiki, unit="q", mininterval=10):
        _, reading, texts = pipeline._retrieve(q["question"], None, None, "hybrid")
        feats = reader.score_candidates(q["question"], reading, texts) if reading else []
        golds = [a["text"] for a in q["answers"]]
        qrows = []
        for f in feats:
            right = bool(q["answerable"] and f.candidate.article_id == q["article_id"]
                         and max(f1_score(f.answer, g) for g in golds) >= 0.5)
            rows.append(f.values)
            labels.append(float(right))
            weights.append(NEWS_WEIGHT if q["corpus"] == "news" else 1.0)
            qrows.append((f.values, right))
        per_question.append((q, qrows))
    cache = Path(__file__).parent / ".cache"
    cache.mkdir(exist_ok=True)
    (cache / "calib_rows.json").write_text(json.dumps(
        [{"id": q["id"], "corpus": q["corpus"], "answerable": q["answerable"], "question": q["question"],
          "gold": [a["text"] for a in q["answers"]], "rows": [[list(v), r] for v, r in qrows]}
         for q, qrows in per_question], ensure_ascii=False))
    x = np.array(rows, dtype=float)
    y = np.array(labels)
    coef, bias = fit_logistic(x, y, np.array(weights))

    def conf(values) -> float:  # noqa: ANN001
        return 1.0 / (1.0 + math.exp(-float(np.dot(coef, values) + bias)))

    q_conf, q_right = [], []
    for q, qrows in per_question:
        if not qrows:
            q_conf.append(0.0)
            q_right.append(False)
            continue
        best = max(qrows, key=lambda r: conf(r[0]))
        q_conf.append(conf(best[0]))
        q_right.append(best[1])
    answer_t, uncertain_t = choose_thresholds(q_conf, q_right)
    out = {"features": list(FEATURES), "weights": [round(float(c), 6) for c in coef], "bias": round(bias, 6),
           "answer_threshold": answer_t, "uncertain_threshold": uncertain_t,
           "fitted_on": f"dev calib split: {len(news)} news + {len(wiki)} SQuAD-page questions, {len(rows)} spans",
           "target_precision": TARGET_PRECISION}
    (args.model_dir / "calibration.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    answered = [r for c, r in zip(q_conf, q_right) if c >= answer_t]
    print(json.dumps(out, indent=2))
    print(f"calib: answered {len(answered)}/{len(q_conf)}, right among answered "
          f"{sum(answered) / max(1, len(answered)):.3f}")


if __name__ == "__main__":
    main()
