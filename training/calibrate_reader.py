"""Fit the trained reader's confidence model and outcome thresholds on the dev **calib**
split (articles the span model never trained on), and write ``calibration.json`` beside
the weights.

    python -m training.calibrate_reader [--model-dir retrieval/readers/models/byline-reader-minilm]

For every calib question (30 news + the first 400 SQuAD-page questions; ~5 minutes on 2
idle cores, cached in ``training/.cache/proposals-*.pkl`` so that a change of features
re-fits in about a minute; ``--cv`` also prints 5-fold figures by article) the
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


def _proposals(questions: list[dict], pipeline, reader, model_dir: Path) -> list[tuple]:  # noqa: ANN001
    """``(passages, article texts, Proposal)`` per question: the retrieval and span-model
    part, cached in ``training/.cache/proposals-<key>.pkl`` (the key names the weights and
    the questions) so that a change of features or rules re-fits in a minute."""
    import hashlib
    import pickle

    from tqdm import tqdm

    weights = model_dir / "model.safetensors"
    stamp = f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.exists() else "none"
    key = hashlib.sha1((stamp + "|" + ",".join(q["id"] for q in questions)).encode()).hexdigest()[:12]
    path = Path(__file__).parent / ".cache" / f"proposals-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    out = []
    for q in tqdm(questions, unit="q", mininterval=10):
        _, reading, texts = pipeline._retrieve(q["question"], None, None, "hybrid")
        proposal = reader.propose(q["question"], reading, texts) if reading else None
        ids = {p.article_id for p in reading}
        out.append((reading, {k: v for k, v in texts.items() if k in ids}, proposal))
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def _question_outcomes(per_question, coef, bias) -> tuple[list[float], list[bool]]:  # noqa: ANN001
    """Question-level ``(confidence of the best span, that span is right)``."""
    q_conf, q_right = [], []
    for _q, qrows in per_question:
        if not qrows:
            q_conf.append(0.0)
            q_right.append(False)
            continue
        scores = [float(np.dot(coef, v) + bias) for v, _ in qrows]
        k = int(np.argmax(scores))
        q_conf.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, scores[k])))))
        q_right.append(qrows[k][1])
    return q_conf, q_right


def cross_validate(per_question, folds: int = 5) -> None:  # noqa: ANN001
    """Print 5-fold cross-validated (by article) question-level figures of the fitted
    confidence model on the calib rows: top-1 right rate among answerable questions, and
    answered / right-among-answered / abstain recall at the chosen thresholds, per corpus."""
    import hashlib

    def fold(q: dict) -> int:
        return int(hashlib.sha1(str(q.get("article_id") or q["id"]).encode()).hexdigest(), 16) % folds

    res = {"news": [], "wikipedia": []}
    for k in range(folds):
        train = [(q, r) for q, r in per_question if fold(q) != k]
        test = [(q, r) for q, r in per_question if fold(q) == k]
        x = np.array([v for _, r in train for v, _ in r], dtype=float)
        y = np.array([float(lab) for _, r in train for _, lab in r])
        w = np.array([NEWS_WEIGHT if q["corpus"] == "news" else 1.0 for q, r in train for _ in r])
        coef, bias = fit_logistic(x, y, w)
        answer_t, uncertain_t = choose_thresholds(*_question_outcomes(train, coef, bias))
        conf, right = _question_outcomes(test, coef, bias)
        for (q, _), c, r in zip(test, conf, right):
            res["news" if q["corpus"] == "news" else "wikipedia"].append((q["answerable"], c >= answer_t, r))
    for corpus, items in res.items():
        ans = [i for i in items if i[0]]
        una = [i for i in items if not i[0]]
        answered = [i for i in items if i[1]]
        print(f"cv {corpus}: n={len(items)} top1-right {sum(i[2] for i in ans) / max(1, len(ans)):.3f} "
              f"answered(answerable) {sum(i[1] for i in ans) / max(1, len(ans)):.3f} "
              f"right|answered {sum(i[2] for i in answered) / max(1, len(answered)):.3f} "
              f"abstain-recall {sum(not i[1] for i in una) / max(1, len(una)):.3f} "
              f"right-overall {sum(i[1] and i[2] for i in ans) / max(1, len(ans)):.3f}")


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
    parser.add_argument("--cv", action="store_true", help="also print 5-fold cross-validated figures")
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
    proposals = _proposals(news + wiki, pipeline, reader, args.model_dir)
    rows, labels, weights, per_question = [], [], [], []
    for q, (reading, texts, proposal) in zip(news + wiki, proposals):
        feats = reader.score_candidates(q["question"], reading, texts, proposal) if reading else []
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
        [{"id": q["id"], "article_id": q.get("article_id"), "corpus": q["corpus"], "answerable": q["answerable"], "question": q["question"],
          "gold": [a["text"] for a in q["answers"]], "rows": [[list(v), r] for v, r in qrows]}
         for q, qrows in per_question], ensure_ascii=False))
    if args.cv:
        cross_validate(per_question)
    x = np.array(rows, dtype=float)
    y = np.array(labels)
    coef, bias = fit_logistic(x, y, np.array(weights))

    q_conf, q_right = _question_outcomes(per_question, coef, bias)
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
