"""Reader comparison on questions the readers were not tuned on: dev held-out (news and
SQuAD pages), the blind set (``bench/blind``) and the bundled sample corpus.

    python bench/reader_quality.py [--readers offline,offline-rules,trained-spans] [--wiki-limit 300]

Readers: ``offline`` (default reader: trained spans + answer rules + calibrated outcomes),
``offline-rules`` (the earlier rule-based reader), ``trained-spans`` (the same trained
model through the generic ``transformers`` reader: best span, sigmoid(span - null), no
rules, abstains below ``reader.abstain_threshold``). Archives: dev + blind articles in one
index for the dev and blind questions (each the other's distractors); the sample corpus
alone for its questions, as ``make run`` serves it.

Prints one table (markdown) and writes it to ``docs/reader-quality.md`` with the
reliability diagram of the default reader on dev held-out + blind (``docs/reader-reliability.png``)
and the raw metrics to ``bench/.cache/results/reader_quality.json``. Takes ~10-15 minutes
on 2 cores for the three readers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DOCS, commit, save_result
from training.harness import BLIND_DIR, DEV_DIR, SAMPLE_DIR, open_eval_archive

COLUMNS = ("f1", "em", "evidence_accuracy", "answered_rate", "answered_right", "abstain_recall", "uncertain_rate", "ece")


def _reader_settings(cfg, name: str):
    from retrieval.readers.trained import DEFAULT_MODEL_DIR

    if name == "trained-spans":
        reader = cfg.reader.model_copy(update={"name": "transformers", "transformers": cfg.reader.transformers.model_copy(
            update={"model": str(DEFAULT_MODEL_DIR), "max_seq_length": 256, "doc_stride": 96})})
        return cfg.model_copy(update={"reader": reader})
    return cfg.model_copy(update={"reader": cfg.reader.model_copy(update={"name": name})})


def main() -> None:
    """CLI entry point (see the module docstring)."""
    from config.settings import load_settings
    from retrieval.evaluation import QAEvaluator, read_questions
    from retrieval.pipeline import QAPipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", default="offline,offline-rules,trained-spans")
    parser.add_argument("--wiki-limit", type=int, default=300)
    parser.add_argument("--sets", default="news-heldout,wiki-heldout,blind,sample",
                        help="also news-calib, wiki-calib: the dev calib split (calibrated on, never trained "
                             "on), for developing answer rules without looking at the sets reported")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ and the results as they are")
    args = parser.parse_args()
    cfg = load_settings()
    big = open_eval_archive([DEV_DIR / "articles.jsonl", BLIND_DIR / "articles.jsonl"], cfg)
    sample = open_eval_archive([SAMPLE_DIR / "articles.jsonl"], cfg)
    sets = {
        "news-heldout": (big, read_questions(DEV_DIR / "questions.jsonl", "news", split="heldout")),
        "wiki-heldout": (big, read_questions(DEV_DIR / "questions.jsonl", "wikipedia", args.wiki_limit, split="heldout")),
        "news-calib": (big, read_questions(DEV_DIR / "questions.jsonl", "news", split="calib")),
        "wiki-calib": (big, read_questions(DEV_DIR / "questions.jsonl", "wikipedia", args.wiki_limit, split="calib")),
        "blind": (big, read_questions(BLIND_DIR / "questions.jsonl")),
        "sample": (sample, read_questions(SAMPLE_DIR / "questions.jsonl")),
    }
    results: dict[str, dict[str, dict]] = {}
    dumps: dict[str, list] = {}
    for name in args.readers.split(","):
        rcfg = _reader_settings(cfg, name)
        results[name] = {}
        load_s = None
        for set_name in args.sets.split(","):
            archive, questions = sets[set_name]
            pipeline = QAPipeline(archive, rcfg)
            if load_s is None:
                t0 = time.perf_counter()
                loader = getattr(pipeline.reader, "load", None)
                if loader:
                    loader()
                load_s = time.perf_counter() - t0
            ev = QAEvaluator(questions, baselines=False)
            metrics = ev.run(pipeline)
            metrics["reader_load_s"] = round(load_s, 2)
            results[name][set_name] = metrics
            dumps[f"{name}/{set_name}"] = list(ev.dump)
            print(f"{name:14s} {set_name:13s} n={metrics['n']:4d} " + " ".join(
                f"{c} {metrics[c]}" for c in COLUMNS) + f" p50 {metrics['latency_ms']['p50']} ms "
                f"p95 {metrics['latency_ms']['p95']} ms", flush=True)
    if args.no_docs:
        return
    save_result("reader_quality", {"commit": commit(), "results": results})
    (Path(__file__).parent / ".cache" / "results" / "reader_quality_dump.json").write_text(
        json.dumps(dumps, ensure_ascii=False, indent=1))
    lines = [f"# Reader quality (commit {commit()}, `python bench/reader_quality.py`)", "",
             "Dev held-out = articles of the dev set's `heldout` split (never trained or calibrated on); "
             "blind = `bench/blind` (written by a helper that never saw the reader, never tuned on); "
             "sample = `corpus/sample` (the questions shipped with the app). F1/EM score answered questions "
             "(uncertain and abstained score 0); answered-right = share of answered questions that are right "
             "(F1 >= 0.5); abstain recall counts unanswerable questions (decoys included) that were not answered.", "",
             "| reader | set | n | " + " | ".join(COLUMNS) + " | p50 ms | p95 ms |",
             "|---|---|---|" + "---|" * len(COLUMNS) + "---|---|"]
    for name, per_set in results.items():
        for set_name, m in per_set.items():
            lines.append(f"| {name} | {set_name} | {m['n']} | " + " | ".join(str(m[c]) for c in COLUMNS)
                         + f" | {m['latency_ms']['p50']} | {m['latency_ms']['p95']} |")
    DOCS.mkdir(exist_ok=True)
    (DOCS / "reader-quality.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    if "offline" in results:
        _reliability_plot(results["offline"])


def _reliability_plot(per_set: dict[str, dict]) -> None:
    """Reliability diagram (confidence bins vs accuracy) of dev held-out + blind answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    for set_name, m in per_set.items():
        if set_name == "sample" or not m["reliability"]:
            continue
        xs = [b[3] for b in m["reliability"]]
        ys = [b[4] for b in m["reliability"]]
        ax.plot(xs, ys, "o-", label=f"{set_name} (ECE {m['ece']:.3f})")
    ax.set_xlabel("confidence (answered + uncertain)")
    ax.set_ylabel("share right (F1 >= 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Default reader: reliability")
    fig.tight_layout()
    fig.savefig(DOCS / "reader-reliability.png", dpi=110)


if __name__ == "__main__":
    main()
