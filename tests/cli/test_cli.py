"""The ``byline`` command line, run in-process with typer's CliRunner (the model loads once)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from byline_testing import TEST_CHUNKING, TOPICS, article_html, article_record, shared_path

ADD_KEYS = {"source", "article_id", "status", "chunks", "reason"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BYLINE_CHUNKING__CHUNK_TOKENS", str(TEST_CHUNKING["chunk_tokens"]))
    monkeypatch.setenv("BYLINE_CHUNKING__OVERLAP_TOKENS", str(TEST_CHUNKING["overlap_tokens"]))
    return tmp_path / "data"


@pytest.fixture
def run(data_dir: Path, embedder):  # embedder: the model is loaded once per test process
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        result = runner.invoke(cli.app, ["--data-dir", str(data_dir), *args], input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def add_json(run, *args: str, input: str | None = None) -> tuple[int, list[dict]]:
    result = run("add", "--json", *args, input=input)
    records = json.loads(result.stdout)
    for record in records:
        assert set(record) == ADD_KEYS
    return result.exit_code, records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_add_file_then_unchanged(run, tmp_path: Path) -> None:
    path = tmp_path / "bridge.txt"
    path.write_text(f"{TOPICS['bridge'][0]}\n\n{TOPICS['bridge'][1]}", encoding="utf-8")
    result = run("add", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("added")
    assert "1 added" in result.stderr
    code, [record] = add_json(run, str(path))
    assert code == 0
    assert record["status"] == "unchanged" and record["source"] == str(path)
    assert record["reason"] is None and record["article_id"].startswith("bridge-")


def test_remove_by_the_path_it_was_added_from(run, tmp_path: Path) -> None:
    path = tmp_path / "bridge.txt"
    path.write_text(f"{TOPICS['bridge'][0]}\n\n{TOPICS['bridge'][1]}", encoding="utf-8")
    _, [record] = add_json(run, str(path))
    result = run("remove", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"removed  {record['article_id']}"
    assert run("show", record["article_id"]).exit_code != 0


def test_add_json_shape_and_statuses(run, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article_record("bridge", id="b1"), article_record("chess", id="c1")])
    code, records = add_json(run, str(path))
    assert code == 0
    assert [(r["source"], r["article_id"], r["status"]) for r in records] == [
        (f"{path}:1", "b1", "added"), (f"{path}:2", "c1", "added")]
    assert all(isinstance(r["chunks"], int) and r["chunks"] > 0 for r in records)
    write_jsonl(path, [article_record("bridge", id="b1", text="The bridge was painted green."),
                       article_record("chess", id="c1")])
    code, records = add_json(run, str(path))
    assert code == 0
    # results are listed as they are decided (not necessarily in input order)
    assert {r["article_id"]: r["status"] for r in records} == {"b1": "updated", "c1": "unchanged"}


def test_add_with_rejections_exits_1_and_adds_the_rest(run, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(article_record("bridge", id="good")) + "\n{broken\n"
                    + json.dumps({"id": "empty", "title": "T", "text": "  "}) + "\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n", encoding="utf-8")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary\xff" * 50)
    missing = tmp_path / "missing.txt"
    code, records = add_json(run, str(path), str(empty), str(binary), str(missing), "http://127.0.0.1:1/")
    assert code == 1
    by_source = {r["source"]: r for r in records}
    assert by_source[f"{path}:1"]["status"] == "added"
    assert "malformed JSON" in by_source[f"{path}:2"]["reason"] and f"{path}:2" in by_source[f"{path}:2"]["reason"]
    assert "'text'" in by_source[f"{path}:3"]["reason"]
    assert "empty" in by_source[str(empty)]["reason"]
    assert "binary" in by_source[str(binary)]["reason"]
    assert "no such file" in by_source[str(missing)]["reason"]
    assert "unreachable" in by_source["http://127.0.0.1:1/"]["reason"]
    for record in records:
        if record["status"] == "rejected":
            assert record["reason"] and record["chunks"] == 0
    listed = json.loads(run("list", "--json").stdout)
    assert [a["id"] for a in listed] == ["good"]
    assert run("verify").exit_code == 0
    # a rejected new version leaves the stored one as it was
    write_jsonl(path, [{"id": "good", "title": "T", "text": " \n "}])
    code, [record] = add_json(run, str(path))
    assert code == 1 and record["status"] == "rejected"
    assert json.loads(run("show", "good", "--json").stdout)["text"] == TOPICS["bridge"][1]
    assert json.loads(run("list", "--json").stdout) == listed


def test_plain_output_names_rejections(run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = run("add", str(missing))
    assert result.exit_code == 1
    assert f"rejected  {missing}: no such file" in result.stdout


def test_size_limit_from_environment(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYLINE_INGEST__MAX_FILE_BYTES", "120")
    path = tmp_path / "long.txt"
    path.write_text("Head\n\n" + TOPICS["volcano"][1], encoding="utf-8")
    code, [record] = add_json(run, str(path))
    assert code == 1 and record["status"] == "rejected"
    assert "size limit of 120 bytes" in record["reason"]
    assert json.loads(run("list", "--json").stdout) == []


def test_duplicate_id_in_one_batch_rejected(run, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "dup.jsonl", [article_record("bridge", id="same"),
                                                article_record("chess", id="same")])
    code, records = add_json(run, str(path))
    assert code == 1
    statuses = {r["source"]: r["status"] for r in records}
    assert statuses == {f"{path}:1": "added", f"{path}:2": "rejected"}
    shown = json.loads(run("show", "same", "--json").stdout)
    assert shown["text"] == TOPICS["bridge"][1]


@pytest.mark.parametrize("args, message", [
    ((), "nothing to add"),
    (("x.txt", "--published", "next tuesday"), "--published"),
    (("x.txt", "--id", "bad id!"), "--id"),
])
def test_usage_errors_exit_2(run, args: tuple[str, ...], message: str) -> None:
    result = run("add", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_unknown_command_and_invalid_settings_exit_2(run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("frobnicate").exit_code == 2
    monkeypatch.setenv("BYLINE_RETRIEVAL__TOP_K", "0")
    result = run("add", "x.txt")
    assert result.exit_code == 2 and "invalid settings" in result.stderr


def test_stdin_with_metadata_then_show(run) -> None:
    body = "“Quoted” words — and a dash.\r\nSecond line © 2024."
    code, [record] = add_json(run, "-", "--id", "stdin-1", "--title", "Given title", "--source", "Gazette",
                              "--published", "2024-03-14", input="Ignored headline\r\n\r\n" + body)
    assert code == 0 and record["status"] == "added" and record["source"] == "<stdin>"
    result = run("show", "stdin-1", "--json")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert set(shown) == {"id", "title", "text", "url", "published", "source"}
    assert shown == {"id": "stdin-1", "title": "Given title", "text": body.replace("\r\n", "\n"),
                     "url": "", "published": "2024-03-14", "source": "Gazette"}
    plain = run("show", "stdin-1")
    assert plain.stdout.startswith("Given title\nGazette · 2024-03-14\n")


def test_id_with_several_articles_rejects_extras(run, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "two.jsonl", [article_record("bridge", id="x"), article_record("chess", id="y")])
    code, records = add_json(run, str(path), "--id", "only-one")
    assert code == 1
    by_source = {r["source"]: r for r in records}
    assert by_source[f"{path}:1"]["status"] == "added" and by_source[f"{path}:1"]["article_id"] == "only-one"
    assert by_source[f"{path}:2"]["status"] == "rejected" and "--id given" in by_source[f"{path}:2"]["reason"]
    assert [a["id"] for a in json.loads(run("list", "--json").stdout)] == ["only-one"]


def test_list_show_stats_remove(run, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        article_record("bridge", id="old", published="2023-01-01", source="Gazette"),
        article_record("chess", id="new", published="2024-05-05", source="Herald")])
    assert run("add", str(path)).exit_code == 0
    listed = json.loads(run("list", "--json").stdout)
    assert [a["id"] for a in listed] == ["new", "old"]  # newest first
    assert set(listed[0]) == {"id", "title", "url", "published", "source", "chunks", "chars"}
    assert listed[0]["published"] == "2024-05-05" and listed[0]["chars"] == len(TOPICS["chess"][1])
    plain = run("list")
    assert plain.stdout.splitlines()[0].startswith("new\t2024-05-05\tHerald")
    assert "2 articles" in plain.stderr

    stats = json.loads(run("stats", "--json").stdout)
    assert stats["articles"] == 2
    assert stats["chunks"] == stats["dense_vectors"] == stats["lexical_rows"] == sum(a["chunks"] for a in listed)
    assert stats["sources"] == {"Gazette": 1, "Herald": 1}
    assert stats["embedder"] == "all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert {"generation", "faiss_type", "data_dir", "disk_bytes"} <= set(stats)
    assert "articles      2" in run("stats").stdout

    assert run("show", "nope").exit_code == 1
    removed = run("remove", "old", "ghost")
    assert removed.exit_code == 1
    assert "removed  old" in removed.stdout and "not found  ghost" in removed.stdout
    assert run("remove", "new").exit_code == 0
    assert json.loads(run("list", "--json").stdout) == []
    assert run("verify").exit_code == 0


def test_verify_reports_damage_and_rebuild_repairs(run, data_dir: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article_record("bridge", id="b"), article_record("chess", id="c")])
    assert run("add", str(path)).exit_code == 0
    ok = run("verify")
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: 2 articles")
    with sqlite3.connect(data_dir / "byline.sqlite") as conn:
        conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT min(id) FROM chunks)")
    bad = run("verify")
    assert bad.exit_code == 1
    assert "problem:" in bad.stderr and "byline rebuild" in bad.stderr
    rebuilt = run("rebuild")
    assert rebuilt.exit_code == 0 and rebuilt.stdout.startswith("rebuilt: 2 articles")
    assert run("verify").exit_code == 0


def test_commands_on_missing_index_exit_1(run) -> None:
    for args in (("list",), ("show", "x"), ("stats",), ("verify",), ("remove", "x")):
        result = run(*args)
        assert result.exit_code == 1, args
        assert "no Byline index" in result.stderr


def test_embedder_mismatch_message(run, data_dir: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article_record("bridge", id="b")])
    assert run("add", str(path)).exit_code == 0
    with sqlite3.connect(data_dir / "byline.sqlite") as conn:
        conn.execute("UPDATE meta SET value='other:0000' WHERE key='embedder_fingerprint'")
    result = run("add", str(path))
    assert result.exit_code == 1 and "byline rebuild" in result.stderr
    assert run("rebuild").exit_code == 0
    assert run("add", str(path)).exit_code == 0


def test_add_folder_and_seed_article(run, tmp_path: Path) -> None:
    seed = shared_path("seeds", "000_5394cb9d20c982bd.txt")
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "seed.txt").write_bytes(seed.read_bytes())
    (folder / "sub" / "page.html").write_text(article_html("Frost Damages Apple Orchards", [
        TOPICS["orchard"][1]]), encoding="utf-8")
    code, records = add_json(run, str(folder))
    assert code == 0
    assert [r["status"] for r in records] == ["added", "added"]
    seed_id = records[0]["article_id"]
    shown = json.loads(run("show", seed_id, "--json").stdout)
    assert shown["title"] == "China Facing Its Own Terrorist 'Diaspora,' Report Says"
    assert shown["text"] == seed.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    code, records = add_json(run, str(folder))
    assert [r["status"] for r in records] == ["unchanged", "unchanged"]


def test_add_url_and_feed(run, http_server) -> None:
    page = http_server.serve("/news/chess-title", article_html("Teenager Wins National Chess Title",
                                                               [TOPICS["chess"][1]], site="Board Weekly"))
    code, [record] = add_json(run, page)
    assert code == 0 and record["status"] == "added" and record["source"] == page
    shown = json.loads(run("show", record["article_id"], "--json").stdout)
    assert shown["url"] == page and shown["source"] == "Board Weekly" and shown["published"] == "2024-03-14"
    feed = http_server.serve("/rss", (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Board Weekly</title>'
        f"<item><title>Chess</title><link>{page}</link></item>"
        f"<item><title>Gone</title><link>{http_server.url('/gone')}</link></item>"
        "</channel></rss>"), "application/rss+xml")
    code, records = add_json(run, "--feed", feed)
    assert code == 1
    assert sorted(r["status"] for r in records) == ["rejected", "unchanged"]
    [rejected] = [r for r in records if r["status"] == "rejected"]
    assert "404" in rejected["reason"] and "/gone" in rejected["reason"]
