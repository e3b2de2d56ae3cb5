"""The ``claims`` tables of the SQLite article store: attributed claims
(:class:`corpus.claims.Claim`) with an FTS5 (BM25) row of their content. Claims carry no
embedding of their own (embedding 14 contents per news article cost 274 ms, more than
half of what ``add`` spent before claims: ``bench/claims_ingest.py``); dense relevance
uses the vector of the chunk that holds the claim (:mod:`retrieval.claims`).

Written in the article's own transaction (:meth:`Archive.add`), deleted with it
(:meth:`ArticleStore.delete_article`), rewritten by ``byline rebuild`` and checked by
``byline verify``. ``claim_articles`` records that an article's claims were extracted
(an article may have none), so an archive made before claims existed is told apart from
one whose articles attribute nothing.

Migration: the tables are created with ``CREATE TABLE IF NOT EXISTS`` whenever an
archive is opened writable (the schema version stays 1: the change is additive);
articles added before that have no claims until ``byline rebuild`` extracts them, and
``verify`` says so. A read-only archive without the tables has no claims to search.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Sequence

from corpus.claims import Claim, ClaimSpanError

__all__ = ["CLAIMS_SCHEMA", "ClaimRow", "SQLiteClaims", "claim_candidates", "claim_with_siblings", "claims_bm25",
           "claims_of_articles", "claims_with_articles", "delete_claims", "ensure_claims_schema", "extracted_claims",
           "has_claims_tables",
           "insert_claims", "verify_claims"]

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles (id),
    idx INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    cue_lemma TEXT NOT NULL,
    content_start INTEGER NOT NULL,
    content_end INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_article ON claims (article_id);
CREATE INDEX IF NOT EXISTS claims_speaker ON claims (speaker COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS claim_articles (
    article_id TEXT PRIMARY KEY REFERENCES articles (id),
    claims INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts USING fts5 (
    content, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True)
class ClaimRow:
    """A stored claim: its row id, article and position in the article's claims."""

    claim_id: int
    article_id: str
    index: int
    claim: Claim


def has_claims_tables(conn: sqlite3.Connection) -> bool:
    """True when the store holds the claims tables (an archive made before them may not)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name='claim_articles'").fetchone() is not None


def count_claims(conn: sqlite3.Connection) -> int:
    """Stored claims (0 for an archive made before the claims tables)."""
    if not has_claims_tables(conn):
        return 0
    return int(conn.execute("SELECT count(*) FROM claims").fetchone()[0])


def ensure_claims_schema(conn: sqlite3.Connection) -> None:
    """Create the claims tables if missing (outside any transaction; idempotent)."""
    if not has_claims_tables(conn):
        conn.executescript(CLAIMS_SCHEMA)


def insert_claims(conn: sqlite3.Connection, article_id: str, text: str, claims: Sequence[Claim]) -> None:
    """Store an article's claims (inside its transaction), each checked exact against
    ``text`` first: a :class:`ClaimSpanError` names the claim's field and nothing of the
    transaction is kept."""
    for i, claim in enumerate(claims):
        try:
            claim.check(text)
        except ClaimSpanError as exc:
            raise ClaimSpanError(f"article {article_id!r}, claim {i}: {exc}") from None
        cur = conn.execute(
            "INSERT INTO claims (article_id, idx, speaker, cue_lemma, content_start, content_end, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (article_id, i, claim.speaker_name, claim.cue_lemma, claim.content.start, claim.content.end,
             json.dumps(claim.to_dict(), ensure_ascii=False)))
        conn.execute("INSERT INTO claims_fts (rowid, content) VALUES (?, ?)", (cur.lastrowid, claim.content.text))
    conn.execute("INSERT OR REPLACE INTO claim_articles VALUES (?, ?)", (article_id, len(claims)))


def delete_claims(conn: sqlite3.Connection, article_id: str) -> None:
    """Delete an article's claims and their lexical rows (inside its transaction)."""
    if not has_claims_tables(conn):
        return
    ids = [(r[0],) for r in conn.execute("SELECT id FROM claims WHERE article_id=?", (article_id,))]
    conn.executemany("DELETE FROM claims_fts WHERE rowid=?", ids)
    conn.execute("DELETE FROM claims WHERE article_id=?", (article_id,))
    conn.execute("DELETE FROM claim_articles WHERE article_id=?", (article_id,))


def delete_all_claims(conn: sqlite3.Connection) -> None:
    """Empty the claims tables (``rebuild``, inside its transaction)."""
    if has_claims_tables(conn):
        conn.execute("DELETE FROM claims")
        conn.execute("DELETE FROM claims_fts")
        conn.execute("DELETE FROM claim_articles")


def verify_claims(conn: sqlite3.Connection, expect_extracted: bool, limit: int = 5) -> list[str]:
    """Problems of the stored claims (empty = healthy): a claim without its article, a
    span that is not exact in the stored article text (every field, by
    :meth:`Claim.check`), lexical rows that disagree, counts that disagree, and (with
    ``expect_extracted``) articles whose claims were never extracted."""
    if not has_claims_tables(conn):
        return ["the archive has no claims tables yet: run `byline rebuild` to extract claims"] \
            if expect_extracted and conn.execute("SELECT 1 FROM articles LIMIT 1").fetchone() else []
    problems: list[str] = []
    orphans = conn.execute("SELECT count(*) FROM claims c LEFT JOIN articles a ON a.id = c.article_id "
                           "WHERE a.id IS NULL").fetchone()[0]
    if orphans:
        problems.append(f"{orphans} claims belong to no stored article")
    bad = 0
    rows = conn.execute("SELECT c.id, c.article_id, c.data, a.text, f.content, c.content_start, c.content_end "
                        "FROM claims c JOIN articles a ON a.id = c.article_id "
                        "LEFT JOIN claims_fts f ON f.rowid = c.id")
    for claim_id, article_id, data, text, lexical, start, end in rows:
        try:
            claim = Claim.from_dict(json.loads(data)).check(text)
            if (claim.content.start, claim.content.end) != (start, end) or lexical != claim.content.text:
                raise ClaimSpanError("claim field 'content': its offsets or lexical row disagree with the claim")
        except (ClaimSpanError, KeyError, TypeError, ValueError) as exc:
            bad += 1
            if bad <= limit:
                problems.append(f"claim {claim_id} of article {article_id!r}: {exc}")
    if bad > limit:
        problems.append(f"... and {bad - limit} more claims with bad spans")
    declared, stored = conn.execute("SELECT coalesce(sum(claims), 0), (SELECT count(*) FROM claims) "
                                    "FROM claim_articles").fetchone()
    lexical_rows = conn.execute("SELECT count(*) FROM claims_fts").fetchone()[0]
    if declared != stored or lexical_rows != stored:
        problems.append(f"claims: articles declare {declared}, store holds {stored}, lexical rows {lexical_rows}")
    if expect_extracted:
        missing = conn.execute("SELECT count(*) FROM articles a LEFT JOIN claim_articles c ON c.article_id = a.id "
                               "WHERE c.article_id IS NULL").fetchone()[0]
        if missing:
            problems.append(f"{missing} articles have no extracted claims (added before claims existed): "
                            "run `byline rebuild` to extract them")
    return problems


# -- reads for claim search (retrieval/claims.py ranks; the SQL stays here) --------------------
def claim_candidates(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> list[tuple[int, bytes | None, str]]:
    """``(claim id, float32 vector bytes of the chunk holding the claim's content or None,
    claim JSON)`` for the claims of the articles matching ``where`` (SQL over ``articles a``,
    from :meth:`~index.store.ArticleStore.filter_sql`)."""
    return conn.execute(
        "SELECT c.id, (SELECT ch.vector FROM chunks ch WHERE ch.article_id = c.article_id AND "
        "ch.start <= c.content_start AND c.content_start < ch.end ORDER BY ch.idx LIMIT 1), c.data "
        f"FROM claims c JOIN articles a ON a.id = c.article_id WHERE {where}", list(params)).fetchall()


def claims_bm25(conn: sqlite3.Connection, match: str, limit: int) -> list[int]:
    """Claim ids whose content matches the FTS5 query ``match``, best BM25 first."""
    return [r[0] for r in conn.execute(
        "SELECT rowid FROM claims_fts WHERE claims_fts MATCH ? ORDER BY bm25(claims_fts) LIMIT ?", (match, limit))]


def claim_with_siblings(conn: sqlite3.Connection, claim_id: int) -> tuple[str, list[tuple[int, str]]]:
    """``(the claim's JSON, [(id, JSON) of the other claims of its article in text order]``."""
    article_id, data = conn.execute("SELECT article_id, data FROM claims WHERE id=?", (claim_id,)).fetchone()
    siblings = conn.execute("SELECT id, data FROM claims WHERE article_id=? AND id != ? ORDER BY idx",
                            (article_id, claim_id)).fetchall()
    return data, siblings


def claims_with_articles(conn: sqlite3.Connection, claim_ids: Sequence[int]) -> dict[int, tuple]:
    """``{claim id: (id, article_id, title, source, published, claim JSON)}``."""
    marks = ",".join("?" * len(claim_ids))
    return {r[0]: r for r in conn.execute(
        f"SELECT c.id, c.article_id, a.title, a.source, a.published, c.data FROM claims c "
        f"JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})", list(claim_ids))}


def claims_of_articles(conn: sqlite3.Connection, article_ids: Sequence[str]) -> list[tuple[int, str, str]]:
    """``[(claim id, article_id, claim JSON)]`` of the claims of ``article_ids``, in each
    article's text order (answers from claims, :mod:`retrieval.claim_answers`)."""
    if not article_ids:
        return []
    marks = ",".join("?" * len(article_ids))
    return conn.execute(f"SELECT id, article_id, data FROM claims WHERE article_id IN ({marks}) "
                        "ORDER BY article_id, idx", list(article_ids)).fetchall()


class SQLiteClaims:
    """The claims of an :class:`~index.store.ArticleStore` as claim search reads them
    (``archive.claims_index`` of the embedded backend; :class:`index.milvus.claims.MilvusClaims`
    is the Milvus one). Every method reads this thread's connection; callers hold
    ``archive.read_snapshot()`` for one consistent state.

    Shapes: claim ids are ``int``; ``data`` is the claim's JSON (:meth:`Claim.to_dict`);
    ``published`` an ISO date string or None; vectors float32 bytes (or None when no chunk
    holds the claim).
    """

    def __init__(self, store) -> None:
        self.store = store

    def ready(self) -> bool:
        """True when the store can hold claims (an archive made before them may not)."""
        return has_claims_tables(self.store.connect())

    def candidates(self, filters) -> list[tuple[int, bytes | None, str]]:
        """``(claim id, vector of the chunk holding its content, data)`` of the claims of
        the articles passing ``filters`` (:class:`~index.base.SearchFilters` or None)."""
        return claim_candidates(self.store.connect(), *self.store.filter_sql(filters))

    def bm25(self, query: str, limit: int) -> list[int]:
        """Claim ids whose content matches ``query``'s words (FTS5), best BM25 first."""
        from index.fts import fts_query

        match = fts_query(query)
        return [] if match is None else claims_bm25(self.store.connect(), match, limit)

    def with_siblings(self, claim_id: int) -> tuple[str, list[tuple[int, str]]]:
        """``(data, [(id, data)] of the other claims of its article in text order)``."""
        return claim_with_siblings(self.store.connect(), claim_id)

    def with_articles(self, claim_ids: Sequence[int]) -> dict[int, tuple]:
        """``{id: (id, article_id, title, source, published, data)}`` of the stored ones."""
        return claims_with_articles(self.store.connect(), claim_ids)

    def of_articles(self, article_ids: Sequence[str]) -> list[tuple[int, str, str]]:
        """``[(id, article_id, data)]`` of the claims of ``article_ids`` in text order."""
        return claims_of_articles(self.store.connect(), article_ids)


def extracted_claims(conn: sqlite3.Connection, article_ids: Sequence[str]) -> dict[str, list[Claim]]:
    """``{article_id: claims in text order}`` of the articles among ``article_ids`` whose
    claims were extracted (an article with none maps to ``[]``; one never extracted is
    absent). For ``byline migrate --to milvus``."""
    if not article_ids or not has_claims_tables(conn):
        return {}
    marks = ",".join("?" * len(article_ids))
    out: dict[str, list[Claim]] = {r[0]: [] for r in conn.execute(
        f"SELECT article_id FROM claim_articles WHERE article_id IN ({marks})", list(article_ids))}
    for _, article_id, data in claims_of_articles(conn, article_ids):
        if article_id in out:
            out[article_id].append(Claim.from_dict(json.loads(data)))
    return out
