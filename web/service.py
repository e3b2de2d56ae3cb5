"""The one question-answering service of a server process: the archive, the pipeline,
background warm-up and request validation shared by the HTTP API and the chat."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from config.settings import Settings
from index.base import IndexBackend, SearchFilters

log = logging.getLogger(__name__)

SAMPLE_ARTICLES = Path(__file__).resolve().parents[1] / "corpus" / "sample" / "articles.jsonl"
SAMPLE_QUESTIONS = Path(__file__).resolve().parents[1] / "corpus" / "sample" / "questions.jsonl"
WARM_UP_QUESTION = "Who is the finance director?"


class RequestError(ValueError):
    """Invalid input from a client; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class QAService:
    """Owns the archive and ONE :class:`~retrieval.pipeline.QAPipeline` per process.

    :meth:`start_warm_up` loads the models in a background thread; ``ask``/``stream``
    wait for it (the first question is then not slowed by loading, and models never load
    twice concurrently).
    """

    def __init__(self, settings: Settings, archive: IndexBackend | None = None, pipeline: Any = None) -> None:
        self.settings = settings
        if archive is None:
            from index.factory import open_backend

            archive = open_backend(settings)
        self.archive = archive
        if pipeline is None:
            from retrieval.pipeline import QAPipeline

            pipeline = QAPipeline(archive, settings)
        self.pipeline = pipeline
        self.ready = threading.Event()
        self.warm_up_seconds: float | None = None
        self.warm_up_error: str | None = None
        self._warm_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- warm-up ------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the embedder and the reader now (seconds): ``pipeline.warm_up`` answers a
        question, or only loads a reader that generates (the LLM reader: no LLM call)."""
        with self._warm_lock:
            if self.ready.is_set():
                return
            t0 = time.perf_counter()
            try:
                self.pipeline.warm_up(WARM_UP_QUESTION)
            except Exception as exc:
                self.warm_up_error = f"{type(exc).__name__}: {exc}"
                log.exception("warm-up failed; questions will load the models on demand")
            self.warm_up_seconds = round(time.perf_counter() - t0, 2)
            self.ready.set()
            log.info("pipeline warm (%.1f s)", self.warm_up_seconds)

    def start_warm_up(self) -> None:
        """Start :meth:`warm_up` in a daemon thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.warm_up, name="byline-warm-up", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float = 600.0) -> None:
        """Block until warm-up finished (or warm up in this thread if it never started)."""
        if self._thread is None:
            self.warm_up()
        self.ready.wait(timeout)

    # -- validation ---------------------------------------------------------------------------
    def check_question(self, question: Any, field: str = "question") -> str:
        """The stripped question; raises :class:`RequestError` naming ``field`` if empty, not
        a string or over ``server.max_question_chars``."""
        if not isinstance(question, str):
            raise RequestError(f"{field}: must be a string")
        question = question.strip()
        if not question:
            raise RequestError(f"{field}: empty")
        if not _valid_unicode(question):
            raise RequestError(f"{field}: invalid Unicode (a lone surrogate)")
        limit = self.settings.server.max_question_chars
        if len(question) > limit:
            raise RequestError(f"{field}: {len(question)} characters, the limit is {limit}")
        return question

    def check_history(self, history: Any) -> list[tuple[str, str]]:
        """``[[question, answer], ...]`` as tuples (the last ``server.max_history_turns``)."""
        if history is None:
            return []
        if not isinstance(history, list):
            raise RequestError("history: must be a list of [question, answer] pairs")
        turns = []
        for i, turn in enumerate(history):
            if (not isinstance(turn, (list, tuple)) or len(turn) != 2
                    or not all(isinstance(x, str) for x in turn)):
                raise RequestError(f"history[{i}]: must be a [question, answer] pair of strings")
            if not all(_valid_unicode(x) for x in turn):
                raise RequestError(f"history[{i}]: invalid Unicode (a lone surrogate)")
            turns.append((turn[0], turn[1]))
        keep = self.settings.server.max_history_turns
        return turns[-keep:] if keep else []

    @staticmethod
    def check_filters(filters: Any) -> SearchFilters | None:
        """:class:`SearchFilters` from a JSON object (None when empty)."""
        if filters is None:
            return None
        if not isinstance(filters, dict):
            raise RequestError("filters: must be an object with source, since, until")
        try:
            parsed = SearchFilters.from_mapping(filters)
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        return parsed if parsed.active else None

    # -- answering ----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[tuple[str, str]] = (),
            filters: SearchFilters | None = None, k: int | None = None):  # Answer
        """``pipeline.ask`` after warm-up; ``ValueError`` becomes :class:`RequestError`."""
        self.wait_ready()
        try:
            return self.pipeline.ask(question, history=self._history(history), filters=filters, k=k)
        except RequestError:
            raise
        except ValueError as exc:
            raise RequestError(str(exc)) from None

    def stream(self, question: str, history: Sequence[tuple[str, str]] = (),
               filters: SearchFilters | None = None, k: int | None = None) -> Iterator[tuple[str, Any]]:
        """``pipeline.stream`` after warm-up: ``("delta" | "draft", str)`` pieces then
        ``("answer", Answer)`` (see :meth:`QAPipeline.stream`)."""
        self.wait_ready()
        try:
            yield from self.pipeline.stream(question, history=self._history(history), filters=filters, k=k)
        except RequestError:
            raise
        except ValueError as exc:
            raise RequestError(str(exc)) from None

    def claims(self, query: Any, speaker: Any = None, since: Any = None, until: Any = None,
               k: Any = 10, source: Any = None) -> list[dict[str, Any]]:
        """Attributed claims about ``query`` (:func:`retrieval.claims.search_claims`) as
        dicts; raises :class:`RequestError` naming the bad field (422), or 501 for a
        backend without a ``claims_index`` (both bundled backends have one)."""
        from index.base import ArchiveError
        from retrieval.claims import search_claims

        query = self.check_question(query, field="q")
        if speaker is not None and (not isinstance(speaker, str) or len(speaker) > 200):
            raise RequestError("speaker: must be a string of at most 200 characters")
        filters = self.check_filters({"since": since, "until": until, "source": source})
        if not isinstance(k, int) or not 1 <= k <= 100:
            raise RequestError("k: must be an integer from 1 to 100")
        self.wait_ready()
        try:
            hits = search_claims(self.archive, self.archive.embedder, query, k=k, speaker=speaker or None,
                                 filters=filters)
        except ArchiveError as exc:
            raise RequestError(str(exc), 501) from None
        return [h.to_dict() for h in hits]

    def _history(self, history: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return [tuple(t) for t in history]  # type: ignore[misc]

    def article_meta(self, article_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{id: summary dict}`` (outlet, date, ...) for the stored ones among the ids."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        return {s.id: s.to_dict() for s in self.archive.summaries(ids)}

    def health(self) -> dict[str, Any]:
        """``/healthz`` payload: ``status`` "ok", "degraded" (a derived index cannot be used
        now: answers still come, lexical search from FTS5) or "error" (the store cannot be
        read); ``ready`` once the models are loaded; ``index`` from ``index_health()``."""
        try:
            articles = len(self.archive.list_articles())
            index = self.archive.index_health()
            status = "degraded" if index["status"] == "degraded" else "ok"
        except Exception as exc:  # noqa: BLE001 - reported as an error, with what failed
            articles, status, index = None, "error", {"status": "error", "error": str(exc)}
        return {"status": status, "ready": self.ready.is_set(), "articles": articles, "index": index}


def _valid_unicode(text: str) -> bool:
    """False for strings with lone surrogates (JSON "\\ud800" escapes), which are not text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_sample_questions(limit: int = 6) -> list[str]:
    """Example questions of the sample corpus (answerable ones first)."""
    import json

    questions: list[tuple[bool, str]] = []
    try:
        for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                questions.append((not record.get("answerable", True), record["question"]))
    except (OSError, ValueError, KeyError):
        return []
    picked = [q for unanswerable, q in questions if not unanswerable][: max(limit - 1, 1)]
    picked += [q for unanswerable, q in questions if unanswerable][:1]
    return picked[:limit]


def ensure_sample(archive: IndexBackend, settings: Settings) -> list[Any]:
    """Add the sample corpus when the archive holds no article; returns the AddResults."""
    if archive.list_articles():
        return []
    from corpus.loaders import ArticleFactory, load_json

    factory = ArticleFactory(max_bytes=settings.ingest.max_file_bytes)
    data = SAMPLE_ARTICLES.read_bytes()
    return archive.add(list(load_json(data, str(SAMPLE_ARTICLES), factory, lines=True)))
