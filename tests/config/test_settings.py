"""config.settings: ``config/default.toml`` agrees with the pydantic model key for key and
value for value, and :func:`load_settings` layers defaults < ``--config`` file < keyword
overrides < ``BYLINE_*`` environment, validating the result (no models load here).

The BYLINE_* variables of the developer's shell are cleared by tests/conftest.py."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import BaseModel, TypeAdapter

from config.settings import DEFAULT_TOML, Settings, load_settings


def _model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """``{key: default}`` of a settings model, nested sections as dicts."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out[name] = _model_defaults(field.annotation)
        else:
            out[name] = field.get_default(call_default_factory=True)
    return out


def _field(model: type[BaseModel], dotted: str) -> Any:
    *sections, key = dotted.split(".")
    for section in sections:
        model = model.model_fields[section].annotation
    return model.model_fields[key]


def _flat(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


DEFAULTS = dict(_flat(_model_defaults(Settings)))
with DEFAULT_TOML.open("rb") as handle:
    TOML = dict(_flat(tomllib.load(handle)))


# -- default.toml against the model -------------------------------------------------------------
def test_every_toml_key_is_a_setting_and_every_setting_is_in_the_toml() -> None:
    assert not sorted(set(TOML) - set(DEFAULTS)), "keys in default.toml the model does not know"
    assert not sorted(set(DEFAULTS) - set(TOML)), "settings default.toml does not document"


@pytest.mark.parametrize("key", sorted(TOML))
def test_toml_default_equals_the_model_default(key: str) -> None:
    field = _field(Settings, key)
    # validated as the field's type: "x/y" in TOML is the Path("x/y") of the model
    assert TypeAdapter(field.annotation).validate_python(TOML[key]) == DEFAULTS[key], key


def test_the_toml_validates_to_the_model_defaults() -> None:
    assert load_settings().model_dump() == Settings().model_dump()


def test_the_walk_sees_nested_sections() -> None:  # the two tests above are not vacuous
    assert {"data_dir", "index.milvus.uri", "reader.llm.align_threshold", "reader.transformers.doc_stride",
            "server.allowed_origins"} <= set(DEFAULTS)
    assert DEFAULTS["reader.abstain_threshold"] == 0.40 and DEFAULTS["index.milvus.collection_prefix"] == "byline"


# -- load_settings: layers and precedence -------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_file_overrides_only_the_keys_it_sets(tmp_path: Path) -> None:
    config = write(tmp_path / "byline.toml", '[retrieval]\ntop_k = 3\n[reader.llm]\nmodel = "llama3.1:8b"\n')
    s = load_settings(config)
    assert s.retrieval.top_k == 3 and s.reader.llm.model == "llama3.1:8b"
    # the rest of each section keeps its default (a deep merge, not a replaced table)
    assert s.retrieval.candidates == 50 and s.reader.llm.base_url == "http://127.0.0.1:11434/v1"
    assert s.reader.name == "offline" and s.data_dir == Path(".byline/data")


def test_overrides_beat_the_file_and_none_is_no_override(tmp_path: Path) -> None:
    config = write(tmp_path / "byline.toml", 'data_dir = "from-file"\n[retrieval]\ntop_k = 3\nrrf_k = 10\n')
    s = load_settings(config, data_dir=tmp_path / "from-arg", retrieval={"top_k": 5})
    assert s.data_dir == tmp_path / "from-arg"
    assert s.retrieval.top_k == 5 and s.retrieval.rrf_k == 10  # merged section-wise
    assert load_settings(config, data_dir=None).data_dir == Path("from-file")


def test_the_environment_beats_the_file_and_overrides_beat_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "byline.toml", '[retrieval]\ntop_k = 3\nrrf_k = 10\n[server]\nport = 8000\n')
    monkeypatch.setenv("BYLINE_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("BYLINE_RETRIEVAL__CANDIDATES", "40")
    monkeypatch.setenv("BYLINE_READER__LLM__MODEL", "env-model")
    monkeypatch.setenv("BYLINE_DATA_DIR", str(tmp_path / "from-env"))
    s = load_settings(config)
    assert s.retrieval.top_k == 7 and s.reader.llm.model == "env-model" and s.data_dir == tmp_path / "from-env"
    # a flag (an override) beats the environment, key by key within a section
    s = load_settings(config, data_dir=tmp_path / "from-arg", retrieval={"top_k": 5})
    assert s.data_dir == tmp_path / "from-arg"
    assert s.retrieval.top_k == 5 and s.retrieval.candidates == 40 and s.retrieval.rrf_k == 10
    assert s.server.port == 8000 and s.reader.llm.base_url == "http://127.0.0.1:11434/v1"


def test_environment_values_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_SERVER__ALLOWED_ORIGINS", '["http://a.example", "http://b.example"]')
    monkeypatch.setenv("BYLINE_READER__ENGLISH_ONLY", "false")
    s = load_settings()
    assert s.server.allowed_origins == ["http://a.example", "http://b.example"] and s.reader.english_only is False
    monkeypatch.setenv("BYLINE_RETRIEVAL__TOP_K", "zero")
    with pytest.raises(ValueError, match="top_k"):
        load_settings()


@pytest.mark.parametrize("text, needle", [
    ("[retrieval]\ntop_k = 0\n", "top_k"),                                   # below its bound
    ('[reader]\nname = "gpt"\n', "name"),                                    # not a reader
    ("[chunking]\nchunk_tokens = 64\noverlap_tokens = 64\n", "overlap_tokens (64) must be smaller"),
    ('[index]\nbackend = "postgres"\n', "backend"),
    ('[index.milvus]\ncollection_prefix = "1-bad"\n', "collection_prefix"),
    ("surprise = 1\n", "surprise"),                                          # unknown top-level key
])
def test_invalid_values_are_rejected_naming_the_field(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        load_settings(write(tmp_path / "bad.toml", text))


def test_unreadable_config_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="config file not found: .*missing.toml"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"broken\.toml: invalid TOML"):
        load_settings(write(tmp_path / "broken.toml", "[retrieval\ntop_k = 3\n"))


def test_a_misspelt_key_inside_a_section_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="top_kk"):
        load_settings(write(tmp_path / "typo.toml", "[retrieval]\ntop_kk = 3\n"))
    with pytest.raises(ValueError, match="modle"):
        load_settings(reader={"llm": {"modle": "x"}})
    monkeypatch.setenv("BYLINE_SERVER__PROT", "8000")
    with pytest.raises(ValueError, match="PROT|prot"):
        load_settings()


def test_tokens_are_secrets_never_printed() -> None:
    settings = Settings(server={"access_token": "open-sesame", "admin_token": "root-sesame"})
    assert "sesame" not in repr(settings) and "sesame" not in str(settings.server)
    assert settings.server.access_token.get_secret_value() == "open-sesame"
    assert settings.server.admin_token.get_secret_value() == "root-sesame"


def test_the_fts_budget_reaches_the_store(tmp_path) -> None:
    from index.archive import Archive

    settings = Settings(index={"fts_max_postings": 123, "fts_min_terms": 2})
    archive = Archive.open(settings, data_dir=tmp_path / "data", check_embedder=False)
    try:
        assert (archive.store.max_postings, archive.store.min_terms) == (123, 2)
    finally:
        archive.close()
