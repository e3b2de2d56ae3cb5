"""Write ``docs/benchmarks.md`` and its plots (``docs/bench-*.png``) from the results in
``bench/.cache/results/`` (full results preferred; ``--quick`` falls back to quick ones)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

SYSTEMS = ["byline hybrid", "byline fts5", "byline dense", "langchain faiss", "bm25s"]
TYPES = ["flat", "hnsw", "ivf"]


def pick(name: str, quick: bool) -> dict | None:
    """The full result, else (with ``quick``) the quick one."""
    full = common.load_result(name)
    if full is not None:
        return full
    return common.load_result(f"{name}_quick") if quick else None


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_quality(q: dict, path: Path) -> None:
    """Grouped bars: recall@1/5/10 and MRR@10 per system, one panel per corpus."""
    import numpy as np

    plt = _plt()
    corpora = list(q["retrieval"])
    fig, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 3.8), sharey=True)
    metrics = ["recall@1", "recall@5", "recall@10", "mrr@10"]
    for ax, corpus in zip(np.atleast_1d(axes), corpora):
        rows = q["retrieval"][corpus]
        names = [s for s in SYSTEMS if s in rows]
        x = np.arange(len(metrics))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            ax.bar(x + i * width - 0.4 + width / 2, [rows[name][m] for m in metrics], width, label=name)
        ax.set_xticks(x, metrics)
        ax.set_title(f"{corpus} ({rows[names[0]]['n']} answerable questions)")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("share of questions")
    np.atleast_1d(axes)[-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scale(s: dict, path: Path) -> None:
    """Latency p50/p95, recall@10, memory and build time against chunks, per type."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for typ in TYPES:
        rows = [r for r in s["rows"] if r["type"] == typ]
        if not rows:
            continue
        n = [r["chunks"] for r in rows]
        one = [r.get("p50_ms_1thread", r["p50_ms"]) for r in rows]
        line = axes[0].plot(n, one, marker="o", label=f"{typ} p50, 1 thread")[0]
        axes[0].plot(n, [r["p50_ms"] for r in rows], marker="x", ls="--", color=line.get_color(),
                     label=f"{typ} p50, 2 threads")
        axes[1].plot(n, [r["recall@10"] for r in rows], marker="o", label=typ)
        axes[2].plot(n, [r["bytes_per_chunk"] for r in rows], marker="o", label=typ)
        axes[3].plot(n, [max(r["build_s"], 0.01) for r in rows], marker="o", label=typ)
    titles = ["single-query latency (ms, k=50; loaded machine)", "recall@10 vs exact search", "index bytes per chunk",
              "build time (s)"]
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel("chunks")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    axes[3].set_yscale("log")
    axes[0].axhline(100, color="red", lw=0.8, ls=":")
    axes[1].axhline(0.95, color="red", lw=0.8, ls=":")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lexical(st: dict, path: Path) -> None:
    """FTS5 latency and overlap with the all-terms top 10 against the postings budget."""
    plt = _plt()
    lex = st["queries"]["lexical"]
    budgets = sorted(lex, key=lambda m: int(m) or 10**12)
    labels = ["all terms" if m == "0" else f"{int(m) // 1000}k" for m in budgets]
    x = range(len(budgets))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    key = "cpu_p50_ms" if "cpu_p50_ms" in lex[budgets[0]] else "p50_ms"
    ax.bar([i - 0.2 for i in x], [lex[m][key] for m in budgets], 0.4, label="p50 " + key.replace("_p50", ""))
    ax.bar([i + 0.2 for i in x], [lex[m][key.replace("50", "95")] for m in budgets], 0.4,
           label="p95 " + key.replace("_p50", ""))
    ax.set_xticks(list(x), labels)
    ax.set_xlabel("postings budget (matching chunks summed over the kept terms)")
    ax.set_ylabel("ms per query")
    ax.set_title(f"FTS5 BM25 at {st['chunks']:,} chunks", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax2 = ax.twinx()
    ax2.plot(list(x), [lex[m]["overlap@10_with_all_terms"] for m in budgets], "ro-")
    ax2.set_ylabel("top-10 overlap with all terms", color="red")
    ax2.set_ylim(0, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:  # one linear report
    """Write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    common.DOCS.mkdir(exist_ok=True)
    ing, q, s, st = (pick(n, args.quick) for n in ("ingest", "quality", "scale", "scale_store"))
    st_flat = pick("scale_store_flat", args.quick)  # the same store with a flat index
    if st is None:  # measured with a forced index type (bench/scale_store.py --faiss-type flat)
        st, st_flat = st_flat, None
    runs = [(n, r) for n, r in (("ingest", ing), ("quality", q), ("scale", s), ("1M store", st)) if r]
    md = ["# Benchmarks", "",
          "Measured on commit " + ", ".join(f"{n} `{r['commit']}` ({r['measured_at']})" for n, r in runs)
          + " (`git rev-parse --short HEAD` when each ran; `bench/` and the `index/` changes described "
          "below were in the working tree).",
          "Regenerate with `make bench` (`python bench/run_all.py`; `--quick` for a smaller run).",
          "",
          "Machine: 2 CPU cores, 24 GB RAM, **shared with other jobs** (load average 1-13 during these runs), "
          "so absolute timings are noisy and pessimistic; ratios are measured within one process run. "
          "Builds and ingest use 2 threads; single-query latencies use 1 thread (torch and FAISS), because "
          "on the loaded machine a 2-thread parallel region waits for a descheduled thread (the scale table "
          "shows both); where given, CPU ms is this process's CPU time, close to the latency on an idle "
          "core. Model: all-MiniLM-L6-v2 (384 dimensions) for every system.", ""]
    if q:
        md += ["## Retrieval quality on the dev set", "",
               f"Every dev article indexed ({q['articles']} articles, news and wikipedia, {q['chunks']} chunks of "
               f"{q['chunking']}); all systems get the same chunk texts and the same stored vectors. A hit is a "
               "retrieved chunk of the gold article containing a gold answer span (as `byline eval`); "
               "recall@k and MRR@10 over answerable questions; latency per query, including the query "
               "embedding where the system embeds.", "",
               "- **byline hybrid**: Byline's retriever (FAISS dense + SQLite FTS5 BM25, reciprocal rank fusion).",
               "- **byline fts5** / **byline dense**: the same retriever with one side only.",
               "- **langchain faiss**: `langchain_community.vectorstores.FAISS.from_embeddings` over the "
               "precomputed vectors, queries embedded by an `Embeddings` wrapper of the same "
               "SentenceTransformer (the tutorial setup).",
               "- **bm25s**: bm25s over the same chunk texts, English stop words, Snowball stemmer.", ""]
        for corpus, rows in q["retrieval"].items():
            md += [f"### {corpus}", "", table(
                ["system", "recall@1", "recall@5", "recall@10", "MRR@10", "p50 ms", "p95 ms", "CPU p50 ms"],
                [[n, r["recall@1"], r["recall@5"], r["recall@10"], r["mrr@10"], r["p50_ms"], r["p95_ms"],
                  r.get("cpu_p50_ms", "-")]
                 for n, r in ((n, rows[n]) for n in SYSTEMS if n in rows)]), ""]
        plot_quality(q, common.DOCS / "bench-quality.png")
        md += ["![retrieval quality](bench-quality.png)", ""]
        md += ["### Answers (`byline eval` metrics, reader: " + q["reader"] + ")", "", table(
            ["corpus", "questions", "EM", "F1", "evidence acc.", "answered rate", "abstain prec.",
             "abstain recall", "answer p50 ms", "p95 ms"],
            [[c, f"{m['n']} ({m['n_answerable']} answerable)" + (f", first {m['limit']}" if m.get("limit") else ""),
              m["em"], m["f1"], m["evidence_accuracy"], m["answered_rate"], m["abstain_precision"],
              m["abstain_recall"], m["latency_ms"]["p50"], m["latency_ms"]["p95"]]
             for c, m in q["answers"].items()]), ""]
    if ing:
        md += ["## Ingest", "", table(
            ["articles", "chunks", "pipeline s", "chunks/s", "raw encode chunks/s", "ratio (goal >= 0.9)",
             "peak RSS MB"],
            [[ing["articles"], ing["chunks"], round(ing["pipeline_s"], 1), round(ing["chunks_per_s"], 1),
              round(ing["raw_chunks_per_s"], 1), round(ing["ratio"], 3), ing["peak_rss_mb"]]]), "",
            "Ratio = the pipeline's chunks/s (`Archive.add`: loading, chunking, embedding, one SQLite "
            "transaction per 32 articles with vectors and FTS5 rows) over raw "
            "`SentenceTransformer.encode` of the same chunk texts in the same process "
            "(`bench/ingest.py`).", ""]
    if s:
        md += ["## Dense index types at scale", "",
               f"Synthetic chunk vectors (the normalised mean of 3-5 random dev-sentence embeddings plus small "
               f"noise), {s['queries']} dev questions as queries, single query at a time through "
               f"`DenseIndex.search` with k = {s['depth']} (the retriever's candidate depth). Recall@10 is "
               "against exact search (flat). Bytes per chunk: the serialized index (what is in RAM).", "",
               table(["chunks", "type", "build s", "bytes/chunk", "p50 ms", "p95 ms", "p50 ms 1 thread",
                      "p95 ms 1 thread", "recall@10", "search-time sweep (2 threads)"],
                     [[f"{r['chunks']:,}", r["type"] + (f" (nlist {r['nlist']})" if r.get("nlist") else ""),
                       r["build_s"], r["bytes_per_chunk"], r["p50_ms"], r["p95_ms"], r.get("p50_ms_1thread", "-"),
                       r.get("p95_ms_1thread", "-"), r["recall@10"],
                       "; ".join(", ".join(f"{k} {v}" for k, v in w.items()) for w in r.get("sweep", []))]
                      for r in s["rows"]]), ""]
        if s.get("note"):
            md += [f"Note: {s['note']}.", ""]
        plot_scale(s, common.DOCS / "bench-scale.png")
        md += ["![dense index types at scale](bench-scale.png)", ""]
    if st:
        qq = st["queries"]
        add = st["add_one"]
        md += [f"## One machine, {st['chunks']:,} chunks", "",
               f"A store of {st['chunks']:,} chunks ({st['articles']:,} articles: synthetic 10-chunk articles "
               "of dev sentences with vectors as above, plus every dev article), holding the chunk rows, "
               f"vectors and FTS5 rows; FAISS type **{qq['dense_type']}**"
               + (" (`choose_type(\"auto\", n)`)" if qq["dense_type"] != "flat" else
                  " (forced with `--faiss-type flat`: see the notes below)") + f". Opening it (FAISS snapshot load + replay): {st['open_dense_s']} s, "
               f"RSS after opening {st['rss_after_open_mb']} MB.", "",
               "### Adding one article", "",
               f"`Archive.add` of one real dev article (new id) with the real embedder, {len(add['runs'])} times: "
               f"median **{add['add_s_median']} s**, max {add['add_s_max']} s (goal < 2 s).", "",
               table(["chunks", "add s", "add CPU s", "of which embedding s", "SQLite tx + FTS5 + rest s",
                      "snapshot policy s", "reader refresh s", "found by dense search", "snapshot written"],
                     [[r["chunks"], r["add_s"], r.get("add_cpu_s", "-"), r["embed_s"], r["rest_s"], r["snapshot_policy_s"],
                       r["reader_refresh_s"], r["found"], r["snapshot_written"]] for r in add["runs"]]), "",
               f"Removing them again: {add['remove_s']} s. No FAISS snapshot is written by a single add "
               "(the policy waits for 10% of the chunks or 2000 to change); readers catch up by replaying "
               "the new chunks from SQLite.", "",
               "### Query latency", "",
               f"{qq['n_questions']} dev questions (news first, then wikipedia), one at a time:", "",
               table(["stage", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms"],
                     [[k, qq[k]["p50_ms"], qq[k]["p95_ms"], qq[k].get("cpu_p50_ms", "-"), qq[k].get("cpu_p95_ms", "-")]
                      for k in ("embed", "dense", "exact", "hybrid", "answer")]),
               "",
               "`embed`: the query embedding; `dense`: FAISS search (k = 50); `exact`: flat search of the same "
               "vectors (reference); `hybrid`: the whole retrieval (embedding, dense, FTS5, fusion, chunk "
               "fetch); `answer`: `QAPipeline.ask` (retrieval + the offline reader). "
               f"Dense recall@10 against exact search: **{qq['dense_recall@10_vs_exact']}**. "
               f"Gold recall@10 of hybrid retrieval with the distractors: {qq['hybrid_gold_recall@10']} (artificial: "
               "the synthetic chunks are copies of the dev sentences, see the notes).", "",
               "### FTS5 BM25 at scale: query terms", "",
               f"Dev questions have {qq['query_terms_mean']} content terms on average. Terms are kept "
               "rarest first while the chunks they match add up to the budget (at least 3 terms).", "",
               table(["postings budget", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms",
                      "top-10 overlap with all terms", "queries losing terms", "terms dropped (mean)"],
                     [["all terms" if m == "0" else f"{int(m):,}", v["p50_ms"], v["p95_ms"],
                       v.get("cpu_p50_ms", "-"), v.get("cpu_p95_ms", "-"),
                       v["overlap@10_with_all_terms"], v["queries_with_dropped_terms"], v["terms_dropped_mean"]]
                      for m, v in sorted(qq["lexical"].items(), key=lambda kv: int(kv[0]) or 10**12)]), "",
               f"Byline's budget: {qq['lexical_max_postings']:,} (setting `index.fts_max_postings`; document "
               "frequencies from a connection-local `fts5vocab` table).", ""]
        if st_flat:
            fq = st_flat["queries"]
            md += [f"The same store with a **flat** index (`--faiss-type flat`, {fq['n_questions']} questions, "
                   f"measured {st_flat['measured_at']} while the machine's load average was 10+, and before the "
                   "`Archive.count()` fix: its hybrid and answer rows include ~0.45 s of `count(*)`s), with more "
                   "budgets:", "",
                   table(["stage", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms"],
                         [[k, fq[k]["p50_ms"], fq[k]["p95_ms"], fq[k].get("cpu_p50_ms", "-"),
                           fq[k].get("cpu_p95_ms", "-")] for k in ("embed", "dense", "hybrid", "answer")]), "",
                   table(["postings budget", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms",
                          "top-10 overlap with all terms", "queries losing terms", "terms dropped (mean)"],
                         [["all terms" if m == "0" else f"{int(m):,}", v["p50_ms"], v["p95_ms"],
                           v.get("cpu_p50_ms", "-"), v.get("cpu_p95_ms", "-"), v["overlap@10_with_all_terms"],
                           v["queries_with_dropped_terms"], v["terms_dropped_mean"]]
                          for m, v in sorted(fq["lexical"].items(), key=lambda kv: int(kv[0]) or 10**12)]), "",
                   f"(That run's hybrid retrieval used a budget of {fq['lexical_max_postings']:,}.)", ""]
            sweep = st_flat if len(st_flat["queries"]["lexical"]) > len(qq["lexical"]) else st
        else:
            sweep = st
        plot_lexical(sweep, common.DOCS / "bench-lexical.png")
        md += ["![FTS5 latency by query terms](bench-lexical.png)", ""]
    extra = Path(__file__).resolve().parent / "notes.md"
    if extra.exists():
        md += [extra.read_text(encoding="utf-8")]
    (common.DOCS / "benchmarks.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"wrote {common.DOCS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
