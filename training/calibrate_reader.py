"""Fit the trained reader's span ranking, confidence model and outcome thresholds on the
dev **calib** split (articles the span model never trained on), and write
``calibration.json`` beside the weights.

    python -m training.calibrate_reader [--cv] [--model-dir retrieval/readers/models/byline-reader-minilm]

For every calib question (30 news + the first 400 SQuAD-page questions, plus the ~290
questions of the written sets' held-out articles, ``training/written``, unless
``--no-written``; ~5 minutes on 2 idle cores, cached in ``training/.cache/proposals-*.pkl`` so that a change of features or
rules re-fits in about a minute; ``--cv`` also prints 5-fold figures by article) the hybrid
retriever's passages are read by :class:`~retrieval.readers.trained.TrainedReader`, and
every span that passes the answer rules gets its features
(:data:`~retrieval.readers.trained.FEATURES`) and its token F1 against the gold answers of
the question's own article (0 for unanswerable questions and other articles). Dev news
questions weigh 3x throughout, so that the small news part is not swamped by the SQuAD
pages; figures are printed per part (news, wikipedia, written). Three fits (numpy, Newton steps, L2):

1. **ranking**: a conditional logit (softmax over a question's spans) that puts the right
   spans (F1 >= 0.5) first, fitted on the questions that have one (``RANK_L2``);
2. **confidence**: a logistic regression of "the top-ranked span is right" on
   :data:`~retrieval.readers.trained.CONFIDENCE_FEATURES`, one row per question, so the
   confidence judges the answer the reader actually gives (``CONFIDENCE_L2``);
3. **thresholds**, on the question-level confidences: ``answer_threshold`` maximises the
   expected score of answering, ``F1 - WRONG_COST`` for a wrong answer (F1 < 0.5) and 0 for
   not answering, among the thresholds that leave at least ``MIN_ABSTAIN_RECALL`` of the
   unanswerable questions unanswered; ``uncertain_threshold`` is the lowest threshold at
   which the questions between the two are right at least ``UNCERTAIN_PRECISION`` of the
   time (worth showing, labelled uncertain), else the answer threshold (no band).

Options tried on the calib split (5-fold by article) and the figures are in
``docs/reader-quality.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from training.harness import DEV_DIR, open_eval_archive
from training.splits import question_split, read_jsonl

__all__ = ["fit_logistic", "fit_ranker", "choose_thresholds", "fit", "main"]

NEWS_WEIGHT = 3.0
RANK_L2 = 1.0
CONFIDENCE_L2 = 10.0
# A wrong answer costs half a right one: answer where P(right) is above about 1/3. On the
# calib split (5-fold CV, news / SQuAD pages) 1.0 (break-even at 50 % right) answers 18 % /
# 23 % of the answerable questions (F1 0.15 / 0.19), 0.75 47 % / 39 % (F1 0.25 / 0.32), 0.5
# 59 % / 50 % at 60 % / 49 % right (F1 0.30 / 0.38, abstain recall 1.00 / 0.73), 0.25 leaves
# the SQuAD-page abstain recall at 0.66.
WRONG_COST = 0.5
MIN_ABSTAIN_RECALL = 0.70
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


def fit_ranker(groups: Sequence[tuple[np.ndarray, np.ndarray, float]], l2: float = RANK_L2,
               steps: int = 60) -> np.ndarray:
    """Conditional logit by Newton's method: ``groups`` are ``(x (n_i, d), y (n_i,) in {0, 1}
    with at least one 1, weight)`` per question; maximises the weighted log-likelihood of the
    right spans under ``softmax(x @ beta)`` (the right spans share the target mass) with an
    L2 penalty. Returns ``beta (d,)``."""
    d = groups[0][0].shape[1]
    beta = np.zeros(d)
    for _ in range(steps):
        grad = l2 * beta
        hess = l2 * np.eye(d)
        for x, y, w in groups:
            z = x @ beta
            p = np.exp(z - z.max())
            p /= p.sum()
            target = y / y.sum()
            grad = grad + w * (x.T @ (p - target))
            mu = p @ x
            hess = hess + w * ((x * p[:, None]).T @ x - np.outer(mu, mu))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta


def choose_thresholds(conf: Sequence[float], f1: Sequence[float], answerable: Sequence[bool],
                      weight: Sequence[float] | None = None, wrong_cost: float = WRONG_COST,
                      min_abstain_recall: float = MIN_ABSTAIN_RECALL) -> tuple[float, float]:
    """``(answer_threshold, uncertain_threshold)`` from question-level confidences, the F1 of
    the answer each question would get, and whether it is answerable (see the module
    docstring)."""
    weight = list(weight) if weight is not None else [1.0] * len(conf)
    rows = list(zip(conf, f1, answerable, weight))
    unanswerable = sum(w for _, _, a, w in rows if not a)
    grid = sorted(set(round(c, 3) for c in conf)) + [1.0]
    best: tuple[float, float] | None = None
    for t in grid:
        if unanswerable and sum(w for c, _, a, w in rows if not a and c < t) / unanswerable < min_abstain_recall:
            continue
        gain = sum(w * (f - wrong_cost * (f < 0.5)) for c, f, _, w in rows if c >= t)
        if best is None or gain > best[0] + 1e-9:
            best = (gain, t)
    answer_t = best[1] if best else 1.0
    uncertain_t = answer_t
    for t in grid:
        if t >= answer_t:
            break
        band = [(f >= 0.5, w) for c, f, _, w in rows if t <= c < answer_t]
        total = sum(w for _, w in band)
        if total and sum(w for r, w in band if r) / total >= UNCERTAIN_PRECISION:
            uncertain_t = t
            break
    return answer_t, uncertain_t


def _proposals(questions: list[dict], pipeline, reader, model_dir: Path) -> list[tuple]:
    """``(passages, article texts, Proposal)`` per question: the retrieval and span-model
    part, cached in ``training/.cache/proposals-<key>.pkl`` (the key names the weights, the
    passages read and the questions) so that a change of features or rules re-fits in a
    minute."""
    import pickle

    from tqdm import tqdm

    weights = model_dir / "model.safetensors"
    stamp = f"{weights.stat().st_size}:{weights.stat().st_mtime_ns}" if weights.exists() else "none"
    key = hashlib.sha1((f"spans-v2|{reader.passages}|{stamp}|" + ",".join(q["id"] for q in questions)).encode()
                       ).hexdigest()[:12]
    path = Path(__file__).parent / ".cache" / f"proposals-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    out = []
    for q in tqdm(questions, unit="q", mininterval=10):
        _, reading, texts = pipeline._retrieve(q["question"], None, None, "hybrid")  # noqa: SLF001 - the reader's exact input
        proposal = reader.propose(q["question"], reading, texts) if reading else None
        ids = {p.article_id for p in reading}
        out.append((reading, {k: v for k, v in texts.items() if k in ids}, proposal))
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def _bucket(q: dict) -> str:
    """Where a calib question's figures are counted: ``news`` (dev news), ``wikipedia``
    (dev SQuAD pages) or ``written`` (our written held-out sets, ``training/written``)."""
    return "written" if q.get("written") else ("news" if q["corpus"] == "news" else "wikipedia")


def _weight(q: dict) -> float:
    """Dev news weighs ``NEWS_WEIGHT`` (30 questions beside 400 SQuAD pages); the written
    questions, already ~290, weigh 1."""
    return NEWS_WEIGHT if _bucket(q) == "news" else 1.0


def _top(cal, rows, spans) -> tuple[int, tuple[float, ...]]:
    """The index of the top-ranked span of ``rows`` and its confidence features, as the
    reader computes them (:meth:`TrainedReader.decide`)."""
    from retrieval.readers.trained import confidence_values

    probs = cal.rank([v for v, _ in rows])
    k = max(range(len(rows)), key=lambda j: probs[j])
    return k, confidence_values(rows[k][0], probs, k, spans)


def _outcomes(cal, per_question) -> tuple[list[float], list[float], list[bool], list[float]]:
    """Question-level ``(confidence, F1 of the answer it would get, answerable, weight)``."""
    conf, f1, answerable, weight = [], [], [], []
    for q, rows, spans in per_question:
        if rows:
            k, values = _top(cal, rows, spans)
            conf.append(cal.confidence(values))
            f1.append(rows[k][1])
        else:  # no span passed the rules: the reader abstains
            conf.append(0.0)
            f1.append(0.0)
        answerable.append(bool(q["answerable"]))
        weight.append(_weight(q))
    return conf, f1, answerable, weight


def fit(per_question):  # list of (question, [(features, F1)], spans) -> Calibration
    """Ranking, confidence and thresholds fitted on ``per_question`` (module docstring)."""
    from retrieval.readers.trained import CONFIDENCE_FEATURES, FEATURES, Calibration

    groups = [(np.array([v for v, _ in rows], dtype=float), np.array([float(f >= 0.5) for _, f in rows]), _weight(q))
              for q, rows, _ in per_question if any(f >= 0.5 for _, f in rows)]
    beta = fit_ranker(groups) if groups else np.array([1.0 if f == "margin" else 0.0 for f in FEATURES])
    ranked = Calibration(tuple(float(b) for b in beta), (0.0,) * len(CONFIDENCE_FEATURES), 0.0, 1.0, 1.0)
    xs, ys, ws = [], [], []
    for q, rows, spans in per_question:
        if rows:
            k, values = _top(ranked, rows, spans)
            xs.append(values)
            ys.append(float(rows[k][1] >= 0.5))
            ws.append(_weight(q))
    coef, bias = fit_logistic(np.array(xs, dtype=float), np.array(ys), np.array(ws), l2=CONFIDENCE_L2)
    scored = Calibration(ranked.rank_weights, tuple(float(c) for c in coef), float(bias), 1.0, 1.0)
    answer_t, uncertain_t = choose_thresholds(*_outcomes(scored, per_question))
    return Calibration(scored.rank_weights, scored.weights, scored.bias, answer_t, uncertain_t)


def figures(cal, per_question) -> dict[str, dict[str, float]]:
    """Per corpus: top-1 right among answerable questions, answered rate (answerable), right
    among answered, abstain recall, F1 (answered answerable questions; others score 0) and the
    uncertain rate, at ``cal``'s thresholds."""
    conf, f1, answerable, _ = _outcomes(cal, per_question)
    out: dict[str, dict[str, float]] = {}
    for corpus in sorted({_bucket(q) for q, _, _ in per_question}):
        items = [(c, f, a) for (q, _, _), c, f, a in zip(per_question, conf, f1, answerable)
                 if _bucket(q) == corpus]
        ans = [i for i in items if i[2]]
        una = [i for i in items if not i[2]]
        answered = [i for i in items if i[0] >= cal.answer_threshold]
        out[corpus] = {
            "n": len(items),
            "top1_right": sum(f >= 0.5 for _, f, _ in ans) / max(1, len(ans)),
            "answered": sum(c >= cal.answer_threshold for c, _, _ in ans) / max(1, len(ans)),
            "right_among_answered": sum(f >= 0.5 for _, f, _ in answered) / max(1, len(answered)),
            "abstain_recall": sum(c < cal.answer_threshold for c, _, _ in una) / max(1, len(una)),
            "f1": sum(f for c, f, _ in ans if c >= cal.answer_threshold) / max(1, len(ans)),
            "uncertain": sum(cal.uncertain_threshold <= c < cal.answer_threshold for c, _, _ in items) / max(1, len(items)),
        }
    return out


def _fold(q: dict, folds: int) -> int:
    return int(hashlib.sha1(str(q.get("article_id") or q["id"]).encode()).hexdigest(), 16) % folds


def cross_validate(per_question, folds: int = 5) -> dict[str, dict[str, float]]:
    """5-fold cross-validated (by article) figures of :func:`figures`: each fold is judged by
    the ranking, confidence and thresholds fitted on the other four. Printed and returned."""

    judged = []
    for k in range(folds):
        train = [r for r in per_question if _fold(r[0], folds) != k]
        test = [r for r in per_question if _fold(r[0], folds) == k]
        cal = fit(train)
        conf, _, _, _ = _outcomes(cal, test)
        judged.extend((r, cal, c) for r, c in zip(test, conf))
    out: dict[str, dict[str, float]] = {}
    for corpus in sorted({_bucket(r[0]) for r, _, _ in judged}):
        items = [(r, cal, c) for r, cal, c in judged if _bucket(r[0]) == corpus]
        rows = []
        for (q, qrows, spans), cal, c in items:
            f = qrows[_top(cal, qrows, spans)[0]][1] if qrows else 0.0
            rows.append((bool(q["answerable"]), c >= cal.answer_threshold,
                         cal.uncertain_threshold <= c < cal.answer_threshold, f))
        ans = [r for r in rows if r[0]]
        una = [r for r in rows if not r[0]]
        answered = [r for r in rows if r[1]]
        out[corpus] = {
            "n": len(rows),
            "top1_right": sum(r[3] >= 0.5 for r in ans) / max(1, len(ans)),
            "answered": sum(r[1] for r in ans) / max(1, len(ans)),
            "right_among_answered": sum(r[3] >= 0.5 for r in answered) / max(1, len(answered)),
            "abstain_recall": sum(not r[1] for r in una) / max(1, len(una)),
            "f1": sum(r[3] for r in ans if r[1]) / max(1, len(ans)),
            "uncertain": sum(r[2] for r in rows) / max(1, len(rows)),
        }
    for corpus, m in out.items():
        print(f"cv {corpus}: " + " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.items()))
    return out


def question_rows(questions: list[dict], proposals: list[tuple], reader) -> list[tuple]:
    """``(question, [(features, F1 of the span)], the model's spans)`` per question."""
    from retrieval.metrics import f1_score

    per_question = []
    for q, (reading, texts, proposal) in zip(questions, proposals):
        feats = reader.score_candidates(q["question"], reading, texts, proposal) if reading and proposal else []
        golds = [a["text"] for a in q["answers"]]
        rows = [(f.values, max(f1_score(f.answer, g) for g in golds)
                 if q["answerable"] and f.candidate.article_id == q["article_id"] else 0.0) for f in feats]
        per_question.append((q, rows, proposal.spans if proposal else ()))
    return per_question


WRITTEN_ARTICLES = Path(__file__).parent / ".cache" / "written-heldout-articles.jsonl"


def _written_heldout() -> list[dict]:
    """The written sets' held-out questions (``training/written_data.py``), as calib
    questions (``written: True``; ``corpus`` news, or wikipedia for the encyclopedic sets
    ``wi``/``wj``); their articles are written to ``WRITTEN_ARTICLES`` for the archive."""
    from training.written_data import load_written, written_split

    articles, questions = load_written()
    keep = {aid: a for aid, a in articles.items() if written_split(aid) == "heldout"}
    if not keep:
        return []
    WRITTEN_ARTICLES.parent.mkdir(exist_ok=True)
    body = "".join(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"], "date": a.get("date")},
                              ensure_ascii=False) + "\n" for a in keep.values())
    if not WRITTEN_ARTICLES.exists() or WRITTEN_ARTICLES.read_text(encoding="utf-8") != body:
        WRITTEN_ARTICLES.write_text(body, encoding="utf-8")
    out = []
    for q in questions:
        aid = q.get("article_id")
        if (aid in keep) or (aid is None and written_split(q["id"]) == "heldout"):
            corpus = "wikipedia" if q["id"][:2] in {"wi", "wj"} else "news"
            out.append(dict(q, corpus=corpus, written=True))
    return out


def main(argv: list[str] | None = None) -> None:
    """CLI entry point (see the module docstring)."""
    from config.settings import load_settings
    from retrieval.pipeline import QAPipeline
    from retrieval.readers.trained import CONFIDENCE_FEATURES, DEFAULT_MODEL_DIR, FEATURES, TrainedReader

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--dev", type=Path, default=DEV_DIR)
    parser.add_argument("--limit-wiki", type=int, default=400, help="at most N SQuAD-page questions")
    parser.add_argument("--cv", action="store_true", help="also print 5-fold cross-validated figures")
    parser.add_argument("--no-written", action="store_true",
                        help="leave out the written sets' held-out articles (training/written)")
    args = parser.parse_args(argv)

    cfg = load_settings()
    written = [] if args.no_written else _written_heldout()
    files = [args.dev / "articles.jsonl"] + ([WRITTEN_ARTICLES] if written else [])
    archive = open_eval_archive(files, cfg)
    (args.model_dir / "calibration.json").unlink(missing_ok=True)
    reader = TrainedReader(args.model_dir, spacy_model=cfg.reader.spacy_model, embedder=archive.embedder)
    pipeline = QAPipeline(archive, cfg, reader=reader)
    questions = [q for q in read_jsonl(args.dev / "questions.jsonl") if question_split(q) == "calib"]
    news = [q for q in questions if q["corpus"] == "news"]
    wiki = [q for q in questions if q["corpus"] != "news"][: args.limit_wiki]
    proposals = _proposals(news + wiki + written, pipeline, reader, args.model_dir)
    per_question = question_rows(news + wiki + written, proposals, reader)
    cache = Path(__file__).parent / ".cache"
    cache.mkdir(exist_ok=True)
    (cache / "calib_rows.json").write_text(json.dumps(
        [{"id": q["id"], "article_id": q.get("article_id"), "corpus": q["corpus"], "answerable": q["answerable"],
          "question": q["question"], "gold": [a["text"] for a in q["answers"]], "rows": [[list(v), f] for v, f in rows],
          "spans": [[c.article_id, c.start, c.end, c.score, c.null] for c in spans]}
         for q, rows, spans in per_question], ensure_ascii=False))
    cv = cross_validate(per_question) if args.cv else None
    cal = fit(per_question)
    n_spans = sum(len(rows) for _, rows, _ in per_question)
    out = {"features": list(FEATURES), "rank_weights": [round(w, 6) for w in cal.rank_weights],
           "confidence_features": list(CONFIDENCE_FEATURES), "weights": [round(w, 6) for w in cal.weights],
           "bias": round(cal.bias, 6), "answer_threshold": cal.answer_threshold,
           "uncertain_threshold": cal.uncertain_threshold,
           "fitted_on": f"dev calib split: {len(news)} news + {len(wiki)} SQuAD-page questions, "
                        f"written held-out: {len(written)} questions; {n_spans} spans",
           "wrong_cost": WRONG_COST, "min_abstain_recall": MIN_ABSTAIN_RECALL,
           "calib_figures": {k: {m: round(v, 3) for m, v in d.items()} for k, d in figures(cal, per_question).items()}}
    if cv:
        out["calib_cv_figures"] = {k: {m: round(v, 3) for m, v in d.items()} for k, d in cv.items()}
    (args.model_dir / "calibration.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
