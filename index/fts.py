"""FTS5 lexical search over the article store's ``chunks_fts`` table: BM25 (``bm25()``)
over Porter-stemmed ``unicode61`` tokens, with a query cost budget that keeps the
rarest terms of a long query (settings ``index.fts_max_postings`` and
``index.fts_min_terms``, where the budget's measured figures are given)."""

from __future__ import annotations

from typing import Sequence

from index.base import SearchFilters
from index.lexical import query_terms



def fts_query(text: str, terms: Sequence[str] | None = None) -> str | None:
    """An FTS5 OR-query of the content words of ``text`` (or of ``terms``), each term
    quoted so that FTS5 syntax in user text is inert. None if nothing is left."""
    words = query_terms(text) if terms is None else list(terms)
    quoted = ['"' + t.replace('"', "") + '"' for t in words]
    return " OR ".join(quoted) if quoted else None


def _porter():  # a PyStemmer stemmer or None
    try:
        import Stemmer

        return Stemmer.Stemmer("porter")  # the stemmer of FTS5's porter tokenizer
    except (ImportError, KeyError):  # pragma: no cover
        return None


_PORTER = _porter()


class FtsSearch:
    """FTS5 BM25 search, mixed into :class:`~index.store.ArticleStore` (it uses the
    store's ``connect``, ``filter_sql``, ``_local``, ``_df_cache`` and its query budget
    ``max_postings`` / ``min_terms``: :class:`config.settings.IndexSettings`)."""

    max_postings: int  # 0 = every term (FTS5's exhaustive BM25)
    min_terms: int

    # -- lexical search ------------------------------------------------------------------
    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` by FTS5 BM25 (score negated: higher is better)."""
        terms = query_terms(query)
        if self.max_postings and len(terms) > self.min_terms:
            terms = self._affordable_terms(terms, self.max_postings, self.min_terms)
        match = fts_query(query, terms)
        if match is None or k <= 0:
            return []
        conn = self.connect()
        if filters is None or not filters.active:
            sql = ("SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
                   "ORDER BY bm25(chunks_fts) LIMIT ?")
            return [(int(r[0]), float(r[1])) for r in conn.execute(sql, (match, k))]
        where, params = self.filter_sql(filters)
        sql = ("SELECT f.rowid, -bm25(chunks_fts) FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
               f"JOIN articles a ON a.id = c.article_id WHERE chunks_fts MATCH ? AND {where} "
               "ORDER BY bm25(chunks_fts) LIMIT ?")
        return [(int(r[0]), float(r[1])) for r in conn.execute(sql, [match, *params, k])]

    def _affordable_terms(self, terms: list[str], budget: int, minimum: int) -> list[str]:
        """The rarest of ``terms`` whose matching chunks add up to at most ``budget`` (at
        least ``minimum`` of them), plus every term the index does not hold (they cost
        nothing); in query order. Document frequencies are FTS5's own (a connection-local
        fts5vocab table); nothing is looked up while the archive is smaller than the budget."""
        conn = self.connect()
        row = conn.execute("SELECT max(rowid) FROM chunks_fts").fetchone()
        if _PORTER is None or not row[0] or int(row[0]) * len(terms) <= budget:
            return terms
        if not getattr(self._local, "vocab", False):
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_vocab "
                         "USING fts5vocab(main, 'chunks_fts', 'row')")
            self._local.vocab = True
        # fts5vocab counts a term's documents by reading its whole doclist (~90 ms for a
        # term in 40% of a million chunks), so counts are cached per process until the
        # archive grows by a tenth: they only choose terms, so a stale count costs speed.
        size, cache = self._df_cache
        if int(row[0]) > 1.1 * size or len(cache) > 200_000:
            size, cache = int(row[0]), {}
            self._df_cache = (size, cache)
        df = {}
        for term in terms:
            stem = _PORTER.stemWord(term)
            if stem not in cache:
                found = conn.execute("SELECT doc FROM temp.chunks_fts_vocab WHERE term = ?", (stem,)).fetchone()
                cache[stem] = int(found[0]) if found else 0
            df[term] = cache[stem]
        keep = {t for t in terms if not df[t]}
        total = 0
        for i, term in enumerate(sorted((t for t in terms if df[t]), key=lambda t: df[t])):
            if i >= minimum and total + df[term] > budget:
                break
            keep.add(term)
            total += df[term]
        return [t for t in terms if t in keep]
