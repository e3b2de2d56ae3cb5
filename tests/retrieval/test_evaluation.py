"""retrieval.evaluation: QAEvaluator on a hand-checked fixture, read_questions, and
``byline eval --json`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.article import Article
from retrieval.evaluation import QAEvaluator, read_questions
from retrieval.metrics import exact_match, f1_score, max_over_golds
from retrieval.pipeline import QAPipeline
from retrieval.types import Span

# Four short articles on unrelated topics: with 256-token chunks each is one chunk, so the
# relevant chunk of an answerable question is exactly its article's only chunk.
ARTICLES = [
    {"id": "lighthouse", "title": "Keeper retires from Gannet Point lighthouse",
     "text": "Oswin Tregarthen retired on Friday after forty-one years as keeper of the Gannet Point "
             "lighthouse. The lighthouse was automated in 1998, but Tregarthen stayed on to maintain the lamp.",
     "source": "Cove Herald", "published": "2024-02-02", "url": "https://news.example/lighthouse"},
    {"id": "marathon", "title": "Runner sets course record at Pellham marathon",
     "text": "Kenyan runner Wanjiru Kiprotich won the Pellham marathon on Sunday in a course record "
             "of 2 hours 19 minutes. About 9,000 runners started the race in cold rain.",
     "source": "Pellham Daily", "published": "2024-04-14", "url": "https://news.example/marathon"},
    {"id": "bakery", "title": "Family bakery closes after a century",
     "text": "The Aldersgate bakery on Mill Street closed its doors on Saturday after 102 years. Owner "
             "Priscilla Venn said rising flour and energy costs made the shop unprofitable.",
     "source": "Cove Herald", "published": "2024-05-20", "url": "https://news.example/bakery"},
    {"id": "beetle", "title": "Rare beetle found in Holloway woods",
     "text": "Volunteers counting insects in Holloway woods found a violet ground beetle, a species not "
             "recorded in the county since 1952. The discovery was confirmed by the county museum.",
     "source": "Pellham Daily", "published": "2024-06-30", "url": "https://news.example/beetle"},
]
BY_ID = {a["id"]: a for a in ARTICLES}


def gold(qid: str, article_id: str, question: str, answer: str, corpus: str = "news") -> dict:
    text = BY_ID[article_id]["text"]
    return {"id": qid, "article_id": article_id, "question": question,
            "answers": [{"text": answer, "start": text.index(answer)}], "answerable": True, "corpus": corpus}


QUESTIONS = [
    gold("q1", "lighthouse", "Who retired as keeper of the Gannet Point lighthouse?", "Oswin Tregarthen"),
    gold("q2", "marathon", "Who won the Pellham marathon?", "Wanjiru Kiprotich"),
    {"id": "q3", "article_id": None, "question": "How many submarines does the Pellham navy operate?",
     "answers": [], "answerable": False, "corpus": "news"},
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_chunk_is_relevant_only_when_it_holds_the_gold_span() -> None:
    """recall@k and MRR count a passage as a hit by the gold offsets: the right article
    and a chunk containing the whole answer span, not merely its words."""
    from retrieval.evaluation import GoldQuestion, _relevant

    text = BY_ID["lighthouse"]["text"]
    start = text.index("1998")  # hand check: the lighthouse was automated in 1998
    assert start == 131
    q = GoldQuestion(id="y", question="When was the Gannet Point lighthouse automated?", article_id="lighthouse",
                     answers=(("1998", Span(start, start + 4)),), answerable=True)
    assert _relevant(q, "lighthouse", 0, len(text))
    assert _relevant(q, "lighthouse", start, start + 4)
    assert not _relevant(q, "lighthouse", 0, start + 3)          # ends inside the answer
    assert not _relevant(q, "lighthouse", start + 1, len(text))  # starts inside it
    assert not _relevant(q, "lighthouse", 0, start)              # the words before it
    assert not _relevant(q, "marathon", 0, len(text))            # same offsets, another article
    unanswerable = GoldQuestion(id="z", question="Q?", article_id=None, answers=(), answerable=False)
    assert not _relevant(unanswerable, "lighthouse", 0, len(text))


# -- read_questions ---------------------------------------------------------------------------
def test_read_questions_parses_spans(tmp_path: Path) -> None:
    qs = read_questions(write_jsonl(tmp_path / "q.jsonl", QUESTIONS))
    assert [q.id for q in qs] == ["q1", "q2", "q3"]
    q1 = qs[0]
    start = BY_ID["lighthouse"]["text"].index("Oswin Tregarthen")
    assert q1.answers == (("Oswin Tregarthen", Span(start, start + len("Oswin Tregarthen"))),)
    assert q1.answerable and q1.article_id == "lighthouse" and q1.corpus == "news"
    assert qs[2].article_id is None and not qs[2].answerable and qs[2].answers == ()


def test_read_questions_defaults(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Who?", "answers": [{"text": "X", "start": 3}]}\n\n'
                    '{"question": "Why?"}\n', encoding="utf-8")
    a, b = read_questions(path)
    assert a.id == "1" and a.answerable and a.corpus == ""  # id defaults to the line number
    assert b.id == "3" and not b.answerable and b.answers == ()


@pytest.mark.parametrize("bad, kind", [
    ("{not json", "JSONDecodeError"),
    ('{"id": "x", "answers": []}', "KeyError"),                                    # no question
    ('{"question": "Q", "answers": [{"text": "A"}]}', "KeyError"),                 # no start
    ('{"question": "Q", "answers": [{"text": "A", "start": -4}]}', "ValueError"),   # invalid span
    ('{"question": "Q", "answers": [{"text": "A", "start": "four"}]}', "ValueError"),
    ('{"question": "Q", "answers": 5}', "TypeError"),
])
def test_read_questions_names_the_bad_line(tmp_path: Path, bad: str, kind: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(QUESTIONS[0]) + "\n\n" + bad + "\n" + json.dumps(QUESTIONS[1]) + "\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match=rf"q\.jsonl:3: bad question record \({kind}"):
        read_questions(path)


def test_read_questions_corpus_and_limit(tmp_path: Path) -> None:
    records = [dict(q, corpus=c) for q, c in zip(QUESTIONS * 2, ["news", "wiki", "news", "wiki", "news", "news"])]
    for i, r in enumerate(records):
        r["id"] = f"r{i}"
    path = write_jsonl(tmp_path / "q.jsonl", records)
    assert [q.id for q in read_questions(path)] == [f"r{i}" for i in range(6)]
    assert [q.id for q in read_questions(path, corpus="news")] == ["r0", "r2", "r4", "r5"]
    assert [q.id for q in read_questions(path, corpus="wiki")] == ["r1", "r3"]
    assert read_questions(path, corpus="other") == []
    assert [q.id for q in read_questions(path, limit=2)] == ["r0", "r1"]
    # the limit counts questions of the selected corpus
    assert [q.id for q in read_questions(path, corpus="news", limit=3)] == ["r0", "r2", "r4"]
    assert [q.id for q in read_questions(path, corpus="wiki", limit=10)] == ["r1", "r3"]


# -- QAEvaluator --------------------------------------------------------------------------------
@pytest.fixture
def eval_pipeline(make_settings, embedder):
    from index.archive import Archive

    settings = make_settings(chunking={"chunk_tokens": 256, "overlap_tokens": 32})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([Article(id=a["id"], title=a["title"], text=a["text"], source=a["source"], url=a["url"])
                 for a in ARTICLES])
    assert archive.count() == len(ARTICLES)  # one chunk per article
    yield QAPipeline(archive, settings)
    archive.store.close()


def test_evaluator_hand_checked(eval_pipeline, tmp_path: Path) -> None:
    questions = read_questions(write_jsonl(tmp_path / "q.jsonl", QUESTIONS))
    progress: list[tuple[int, int]] = []
    evaluator = QAEvaluator(questions, baselines=True, progress=lambda i, n: progress.append((i, n)))
    m = evaluator.run(eval_pipeline)

    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert (m["n"], m["n_answerable"], m["n_unanswerable"]) == (3, 2, 1)
    # each answerable question names its article's distinctive words: its only chunk ranks first
    assert m["recall@1"] == m["recall@5"] == m["recall@10"] == m["mrr@10"] == 1.0
    for name in ("bm25", "dense", "hybrid"):
        base = m["baselines"][name]
        assert set(base) == {"recall@1", "recall@5", "recall@10", "mrr@10", "latency_ms_p50"}
        assert base["recall@10"] == 1.0 and base["mrr@10"] == 1.0
    assert m["baselines"]["hybrid"]["recall@1"] == m["recall@1"]

    for key in ("em", "f1", "evidence_accuracy", "answered_rate", "abstain_precision", "abstain_recall"):
        assert 0.0 <= m[key] <= 1.0, key
    assert set(m["latency_ms"]) == {"p50", "p95"}
    assert 0 <= m["latency_ms"]["p50"] <= m["latency_ms"]["p95"]

    # recompute the answer metrics from the per-question dump
    rows = evaluator.dump
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    assert [r["rank"] for r in answerable] == [1, 1] and unanswerable[0]["rank"] is None
    assert unanswerable[0]["gold"] == []
    em = sum(max_over_golds(exact_match, r["answer"], r["gold"]) for r in answerable) / 2
    f1 = sum(max_over_golds(f1_score, r["answer"], r["gold"]) for r in answerable) / 2
    assert m["em"] == round(em, 4) and m["f1"] == round(f1, 4)
    assert m["f1"] >= m["em"]
    assert m["answered_rate"] == round(sum(not r["abstained"] for r in answerable) / 2, 4)
    abstained = [r for r in rows if r["abstained"]]
    assert m["abstain_recall"] == float(unanswerable[0]["abstained"])
    expected_precision = (sum(not r["answerable"] for r in abstained) / len(abstained)) if abstained else 0.0
    assert m["abstain_precision"] == round(expected_precision, 4)
    for r in rows:  # an abstention has no answer and no citation
        assert (r["answer"] is None) == r["abstained"] == (r["citation"] is None)
        assert r["latency_ms"] >= 0
    # evidence needs a citation: never above the answered rate
    assert m["evidence_accuracy"] <= m["answered_rate"]
    for r in answerable:
        if r["citation"] is not None and r["answer"] in r["gold"]:
            assert r["answer"] in r["citation"]


def test_evaluator_without_baselines(eval_pipeline) -> None:
    from retrieval.evaluation import GoldQuestion

    start = BY_ID["bakery"]["text"].index("Priscilla Venn")
    q = GoldQuestion(id="x", question="Who owned the Aldersgate bakery?", article_id="bakery",
                     answers=(("Priscilla Venn", Span(start, start + len("Priscilla Venn"))),), answerable=True)
    m = QAEvaluator([q], baselines=False).run(eval_pipeline)
    assert "baselines" not in m
    assert (m["n"], m["n_answerable"], m["n_unanswerable"]) == (1, 1, 0)
    assert m["recall@1"] == 1.0
    # no unanswerable question: both abstention ratios are 0 by convention
    assert m["abstain_recall"] == 0.0


# -- byline eval --json ---------------------------------------------------------------------------
def test_cli_eval_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    import cli

    monkeypatch.setenv("BYLINE_CHUNKING__CHUNK_TOKENS", "256")
    monkeypatch.setenv("BYLINE_CHUNKING__OVERLAP_TOKENS", "32")
    articles = write_jsonl(tmp_path / "articles.jsonl", ARTICLES)
    questions = write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    dump = tmp_path / "dump.jsonl"
    result = CliRunner().invoke(cli.app, ["--data-dir", str(tmp_path / "data"), "eval",
                                          "--questions", str(questions), "--articles", str(articles),
                                          "--json", "--dump", str(dump)])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert set(m) >= {"n", "recall@1", "recall@5", "recall@10", "mrr@10", "em", "f1", "evidence_accuracy",
                      "answered_rate", "abstain_precision", "abstain_recall", "latency_ms", "baselines"}
    assert set(m["latency_ms"]) == {"p50", "p95"}
    assert set(m["baselines"]) == {"bm25", "dense", "hybrid"}
    assert m["n"] == 3 and m["recall@10"] == 1.0
    assert [json.loads(line)["id"] for line in dump.read_text(encoding="utf-8").splitlines()] == ["q1", "q2", "q3"]
    assert not (tmp_path / "data").exists()  # --articles evaluates in a private temp index


def test_cli_eval_limit_and_corpus(tmp_path: Path, embedder) -> None:
    import cli

    articles = write_jsonl(tmp_path / "articles.jsonl", ARTICLES)
    questions = write_jsonl(tmp_path / "questions.jsonl",
                            [QUESTIONS[0], dict(QUESTIONS[1], corpus="wiki"), QUESTIONS[2]])
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data"), "eval", "--questions", str(questions),
            "--articles", str(articles), "--json", "--no-baselines"]
    result = runner.invoke(cli.app, [*base, "--corpus", "wiki"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["n"] == 1 and m["n_answerable"] == 1 and "baselines" not in m
    result = runner.invoke(cli.app, [*base, "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 2
    result = runner.invoke(cli.app, [*base, "--corpus", "nothing"])
    assert result.exit_code == 2 and "no questions" in result.stderr
