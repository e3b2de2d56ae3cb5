"""``byline claims`` over the seed article and dev news articles (read from ../shared):
the issue's checks (Moustapha's estimate beside the "other estimates" aside; Comey's
"diaspora" statements), the speaker filter, text output and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from byline_testing import shared_path

SEED = ("seeds", "000_5394cb9d20c982bd.txt")
DISTRACTORS = 24  # dev news articles added beside the seed


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, embedder):  # embedder: loaded once
    data_dir = tmp_path_factory.mktemp("claims") / "data"
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli.app, ["--data-dir", str(data_dir), "--no-server", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    rows = [json.loads(line) for line in shared_path("data", "dev", "articles.jsonl").read_text().splitlines()]
    news = Path(data_dir.parent / "news.jsonl")
    news.write_text("".join(json.dumps(r) + "\n" for r in [r for r in rows if r["corpus"] == "news"][:DISTRACTORS]))
    assert invoke("add", str(shared_path(*SEED)), str(news)).exit_code == 0
    return invoke


def test_moustapha_estimate_with_the_other_estimates_beside_it(run) -> None:
    result = run("claims", "--json", "Chinese fighters in Syria")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["claims"]
    top = found[0]
    assert (top["speaker"], top["role"], top["cue"]) == ("Imad Moustapha", "Syria's Ambassador to China", "estimated")
    assert [f["text"] for f in top["figures"]] == ["5,000"]
    text = json.loads(run("show", "--json", top["citation"]["article_id"]).stdout)["text"]
    cite = top["citation"]
    assert text[cite["start"]:cite["end"]] == top["content"]
    assert text[top["figures"][0]["start"]:top["figures"][0]["end"]] == "5,000"
    beside = found[1]
    assert beside["speaker"] == "other estimates" and beside["content"] == "the number far lower"
    assert beside["group"] == top["group"]


def test_terrorist_diaspora_finds_comey(run) -> None:
    found = json.loads(run("claims", "--json", "terrorist diaspora").stdout)["claims"]
    comey = [c for c in found[:3] if c["speaker"] == "James Comey"]
    assert comey and any("diaspora" in c["content"] for c in comey)
    only = json.loads(run("claims", "--json", "--speaker", "comey", "terrorist threat").stdout)["claims"]
    assert only and {c["speaker"] for c in only} == {"James Comey"}
    # with a speaker named, all their claims are listed, even for a query off their topic
    anything = json.loads(run("claims", "--json", "--speaker", "comey", "weather").stdout)["claims"]
    assert {c["claim_id"] for c in only} <= {c["claim_id"] for c in anything}
    assert {c["speaker"] for c in anything} == {"James Comey"}


def test_text_output_and_errors(run) -> None:
    result = run("claims", "Chinese fighters in Syria", "--k", "2")
    assert result.exit_code == 0
    assert "Imad Moustapha (Syria's Ambassador to China), no date, estimated: as many as 5,000" in result.stdout
    assert "-- group 1" in result.stdout
    bad = run("claims", "x", "--since", "someday")
    assert bad.exit_code == 2 and "--since" in bad.output
    assert run("claims", "  ").exit_code == 2


def test_missing_archive_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["--data-dir", str(tmp_path / "none"), "claims", "anything"])
    assert result.exit_code == 1 and "error:" in result.output and str(tmp_path / "none") in result.output


def test_verify_and_stats_count_the_claims(run) -> None:
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["claims"] > 10  # the seed alone holds 11 gold claims
    verified = run("verify")
    assert verified.exit_code == 0 and f"; {stats['claims']} claims, every span exact" in verified.output
