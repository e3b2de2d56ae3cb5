"""Dev-set retrieval quality of the two lexical indexes, in one run, on the same chunks.

The dev archive of ``bench/quality.py`` (every dev article, cached in
``bench/.cache/dev-index-*``) is opened twice, with ``index.lexical = "tantivy"`` (the
default) and ``"fts5"``; :class:`retrieval.retriever.HybridRetriever` is run in
``lexical`` and ``hybrid`` mode over the answerable news and wikipedia questions.
Prints recall@1/5/10 and MRR@10 per corpus (a hit as in ``byline eval``: a chunk of the
gold article holding a gold answer span) and the differences tantivy minus FTS5.

Usage: ``python bench/lexical_quality.py [--wiki-limit 0]`` (0 = every question).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from config.settings import load_settings
from index.archive import Archive
from quality import dev_archive, evaluate
from retrieval.evaluation import read_questions
from retrieval.retriever import HybridRetriever


class Mode:
    """One retriever mode as a bench system (``search(query, k)`` -> spans)."""

    def __init__(self, retriever: HybridRetriever, mode: str) -> None:
        self.retriever, self.mode, self.name = retriever, mode, mode

    def search(self, query: str, k: int) -> list[tuple[str, int, int]]:
        return [(p.article_id, p.start, p.end) for p in self.retriever.retrieve(query, k=k, mode=self.mode)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wiki-limit", type=int, default=0, help="wikipedia questions (0 = all answerable)")
    args = parser.parse_args()
    common.set_threads(1)
    base = dev_archive()
    corpora = {"news": [q for q in read_questions(common.QUESTIONS, "news") if q.answerable],
               "wikipedia": [q for q in read_questions(common.QUESTIONS, "wikipedia") if q.answerable][
                   : args.wiki_limit or None]}
    result: dict = {"commit": common.commit(), "chunks": base.count()}
    for lexical in ("tantivy", "fts5"):
        archive = Archive.open(load_settings(data_dir=str(base.data_dir), index={"lexical": lexical}),
                               embedder=base.embedder)
        retriever = HybridRetriever(archive, archive.embedder, archive.settings.retrieval)
        retriever.retrieve("warm up the dense and lexical indexes")
        for corpus, questions in corpora.items():
            for mode in ("lexical", "hybrid"):
                figures = evaluate(Mode(retriever, mode), questions)
                result.setdefault(corpus, {})[f"{mode} {lexical}"] = figures
                print(corpus, mode, lexical, json.dumps(figures), file=sys.stderr, flush=True)
    for corpus in corpora:
        rows = result[corpus]
        result[corpus]["tantivy_minus_fts5"] = {
            mode: {key: round(rows[f"{mode} tantivy"][key] - rows[f"{mode} fts5"][key], 4)
                   for key in ("recall@1", "recall@5", "recall@10", "mrr@10")}
            for mode in ("lexical", "hybrid")}
    common.save_result("lexical_quality", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
