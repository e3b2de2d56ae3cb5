"""Shared helpers of the benchmarks in ``bench/``: paths, the vector cache, synthetic
chunks built from the dev sentences, timing and memory.

Synthetic chunks (for the scale benchmarks): the unique sentences of the dev articles are
embedded once (cached in ``bench/.cache/``); a chunk is 3-5 random sentences, its text
their concatenation and its vector the normalised mean of their vectors plus small noise,
so dense and lexical search see the same, realistically distributed, content.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dev"
ARTICLES = DATA / "articles.jsonl"
QUESTIONS = DATA / "questions.jsonl"
CACHE = ROOT / "bench" / ".cache"
RESULTS = CACHE / "results"
DOCS = ROOT / "docs"

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def commit() -> str:
    """``git rev-parse --short HEAD`` of the repository (``unknown`` outside git)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def set_threads(n: int = 2) -> None:
    """Use ``n`` threads in FAISS and torch (the machine has 2 cores)."""
    import faiss
    import torch

    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """``(fn(), seconds)``."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def timed_cpu(fn: Callable[[], object]) -> tuple[object, float, float]:
    """``(fn(), wall seconds, this process's CPU seconds)``. With one thread, CPU time is
    close to the latency on an idle machine; wall time includes waiting for a core."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def pct(values, q: float) -> float:
    """The ``q``-th percentile (linear), 0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def load_articles(path: Path = ARTICLES) -> list[dict]:
    """The dev articles as JSON records."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_question_records(path: Path = QUESTIONS) -> list[dict]:
    """The dev questions as JSON records."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def dev_sentences(articles: list[dict] | None = None) -> list[str]:
    """Unique sentences (30-400 characters) of the dev articles, in first-seen order."""
    seen: dict[str, None] = {}
    for a in articles or load_articles():
        for s in _SENTENCE.split(a["text"]):
            s = " ".join(s.split())
            if 30 <= len(s) <= 400:
                seen.setdefault(s, None)
    return list(seen)


def _key(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def cached_embeddings(texts: list[str], embedder, name: str) -> np.ndarray:
    """``embedder.embed(texts)``, cached in ``bench/.cache/<name>-<hash>.npy``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{_key(embedder.fingerprint, len(texts), *texts)}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.embed(texts)
    np.save(path, vectors)
    return vectors


def sentence_vectors(embedder=None) -> tuple[list[str], np.ndarray]:
    """The unique dev sentences and their (cached) embeddings."""
    if embedder is None:
        from index.embedder import Embedder

        embedder = Embedder()
    sentences = dev_sentences()
    return sentences, cached_embeddings(sentences, embedder, "sentences")


def synthetic_picks(n: int, n_sentences: int, seed: int = 0) -> list[np.ndarray]:
    """For ``n`` synthetic chunks: the sentence indices each is made of (3-5 each)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 6, size=n)
    flat = rng.integers(0, n_sentences, size=int(sizes.sum()))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [flat[bounds[i]:bounds[i + 1]] for i in range(n)]


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0, noise: float = 0.02,
                      batch: int = 50_000) -> np.ndarray:
    """``(n, dim)`` float32 synthetic chunk vectors (see the module docstring), the same
    for the same ``seed`` as :func:`synthetic_batches`."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start, _, vecs in synthetic_batches(base, n, seed, noise, batch, texts=None):
        out[start:start + len(vecs)] = vecs
    return out


def synthetic_batches(base: np.ndarray, n: int, seed: int = 0, noise: float = 0.02, batch: int = 50_000,
                      texts: list[str] | None = None) -> Iterator[tuple[int, list[np.ndarray], np.ndarray]]:
    """Yield ``(start, picks, vectors)`` batches of synthetic chunks (texts are
    ``" ".join(texts[i] for i in picks[j])`` when wanted)."""
    picks = synthetic_picks(n, len(base), seed)
    rng = np.random.default_rng(seed + 1)
    dim = base.shape[1]
    for start in range(0, n, batch):
        part = picks[start:start + batch]
        sizes = np.fromiter((len(p) for p in part), dtype=np.int64, count=len(part))
        rows = np.repeat(np.arange(len(part)), sizes)
        sums = np.zeros((len(part), dim), dtype=np.float32)
        np.add.at(sums, rows, base[np.concatenate(part)])
        vecs = sums / sizes[:, None].astype(np.float32)
        vecs += np.float32(noise) * rng.standard_normal(vecs.shape, dtype=np.float32) / np.float32(np.sqrt(dim))
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        yield start, part, vecs


def question_vectors(embedder=None, limit: int | None = None) -> tuple[list[dict], np.ndarray]:
    """Answerable dev questions (news first, then wikipedia) and their cached embeddings."""
    if embedder is None:
        from index.embedder import Embedder

        embedder = Embedder()
    qs = [q for q in load_question_records() if q.get("answerable")]
    qs.sort(key=lambda q: q.get("corpus") != "news")
    if limit:
        qs = qs[:limit]
    return qs, cached_embeddings([q["question"] for q in qs], embedder, "questions")


def save_result(name: str, data: dict) -> Path:
    """Write ``bench/.cache/results/<name>.json`` (with the commit)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"commit": commit(), "measured_at": time.strftime("%Y-%m-%d %H:%M"), **data},
                               indent=2), encoding="utf-8")
    return path


def load_result(name: str) -> dict | None:
    """A saved result, or None."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
