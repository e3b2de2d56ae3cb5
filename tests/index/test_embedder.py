"""index.embedder: the fingerprint that ties an index to its model, and argument checks.

The fingerprint is computed from the model directory's files only (no model load), so
these tests run on copies of a small fake directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.embedder import Embedder, default_model_path, resolve_model_path


def fake_model(root: Path, name: str = "mini") -> Path:
    path = root / name
    path.mkdir()
    (path / "config.json").write_text('{"hidden_size": 4}', encoding="utf-8")
    (path / "vocab.txt").write_text("[PAD]\n[CLS]\n", encoding="utf-8")
    (path / "model.safetensors").write_bytes(b"\0" * 64)
    return path


def test_the_same_files_give_the_same_fingerprint_wherever_they_are(tmp_path: Path) -> None:
    a = fake_model(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    b = shutil.copytree(a, tmp_path / "elsewhere" / "mini")
    fa, fb = Embedder(a).fingerprint, Embedder(b).fingerprint
    assert fa == fb and fa.startswith("mini:") and len(fa.split(":")[1]) == 16


@pytest.mark.parametrize("change", ["config", "weights size", "new file"])
def test_a_changed_model_changes_the_fingerprint(tmp_path: Path, change: str) -> None:
    path = fake_model(tmp_path)
    before = Embedder(path).fingerprint
    if change == "config":
        (path / "config.json").write_text('{"hidden_size": 8}', encoding="utf-8")
    elif change == "weights size":
        (path / "model.safetensors").write_bytes(b"\0" * 65)
    else:
        (path / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert Embedder(path).fingerprint != before


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(fake_model(tmp_path), batch_size=0)


def test_the_default_is_the_packaged_minilm() -> None:
    path = default_model_path()
    assert resolve_model_path(None) == path and resolve_model_path("") == path
    assert Embedder().name == "all-MiniLM-L6-v2" and (path / "config.json").is_file()


def test_a_missing_model_directory_is_named_and_never_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not found: .*nowhere.*does not download"):
        Embedder(tmp_path / "nowhere")
