"""The extractive-QA reader on a tiny randomly initialised BertForQuestionAnswering (2 layers,
hidden 32) with the all-MiniLM-L6-v2 tokenizer, saved to a temp dir and loaded the way a
user's model is. A forward hook turns the model into an oracle (boost the start/end logits
of chosen tokens, or the [CLS] "no answer" position) so that the windowing, the offset
mapping and the abstention score are tested exactly."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from retrieval.readers.base import check_answer  # noqa: E402
from retrieval.readers.transformers_qa import ReaderUnavailable, TransformersReader  # noqa: E402
from retrieval.types import Passage  # noqa: E402
from tiny_qa_model import build_tiny_qa_model  # noqa: E402

NAME = "Zoe\u0308 Marti\u0301nez"  # combining diaeresis and acute accent
KEY_SENTENCE = f"Engineers praised “the work” 👍 of {NAME}, the council’s engineer."
ARTICLE = ("The harbour bridge reopened after repairs. " * 20 + KEY_SENTENCE + " "
           + "Ferry operators reported fewer passengers. " * 10).strip()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny QA model directory (config, safetensors, fast tokenizer files), flat head."""
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))


def oracle(reader: TransformersReader, start_word: str | None = None, end_word: str | None = None,
           null: float = 0.0, boost: float = 10.0) -> None:
    """Add ``boost`` to the start logit of ``start_word``'s first token and the end logit of
    ``end_word``'s last token (context tokens only), and ``null`` to both [CLS] logits."""
    reader.load()
    tok = reader._tokenizer
    start_id = tok.convert_tokens_to_ids(tok.tokenize(start_word)[0]) if start_word else None
    end_id = tok.convert_tokens_to_ids(tok.tokenize(end_word)[-1]) if end_word else None

    def hook(module, args, kwargs, output):
        ids = kwargs["input_ids"]
        context = kwargs["token_type_ids"] == 1
        start, end = output.start_logits.clone(), output.end_logits.clone()
        if start_id is not None:
            start += boost * ((ids == start_id) & context)
        if end_id is not None:
            end += boost * ((ids == end_id) & context)
        start[:, 0] += null
        end[:, 0] += null
        output.start_logits, output.end_logits = start, end
        return output

    reader._model.register_forward_hook(hook, with_kwargs=True)


def whole(aid: str, text: str) -> Passage:
    return Passage(0, aid, aid, 0, len(text), text, 1.0)


def test_answer_found_in_a_later_window_maps_to_article_offsets(model_dir: Path) -> None:
    reader = TransformersReader(str(model_dir), max_seq_length=64, doc_stride=16)
    oracle(reader, "Zoe", "Martinez")
    question = "Whose work did the engineers praise?"
    cands = reader.candidates(question, [whole("a", ARTICLE)], {"a": ARTICLE})
    assert len(cands) > 5  # one context, many overlapping windows
    answer = reader.read(question, [whole("a", ARTICLE)], {"a": ARTICLE})
    check_answer(answer, ARTICLE)
    assert answer.answer == NAME
    assert answer.answer_span.start == ARTICLE.index(NAME)
    assert ARTICLE[answer.evidence_span.start:answer.evidence_span.end] == KEY_SENTENCE
    assert answer.confidence > 0.99  # sigmoid(20 - 0)


def test_passage_inside_an_article_is_shifted_to_article_offsets(model_dir: Path) -> None:
    reader = TransformersReader(str(model_dir), max_seq_length=48, doc_stride=8)
    oracle(reader, "Zoe", "Martinez")
    at = ARTICLE.index(KEY_SENTENCE)
    other = "Growers lit fires between the rows. A late frost damaged orchards."
    passages = [Passage(1, "b", "b", 0, len(other), other, 2.0),
                Passage(2, "a", "a", at - 30, at + len(KEY_SENTENCE) + 20, ARTICLE[at - 30:at + len(KEY_SENTENCE) + 20], 1.0)]
    answer = reader.read("Whose work?", passages, {"a": ARTICLE, "b": other})
    check_answer(answer, ARTICLE)
    assert answer.article_id == "a" and answer.answer_span.start == ARTICLE.index(NAME)


def test_null_score_gives_low_confidence(model_dir: Path) -> None:
    reader = TransformersReader(str(model_dir), max_seq_length=64, doc_stride=16)
    oracle(reader, "Zoe", "Martinez", null=15.0, boost=2.0)
    answer = reader.read("Who?", [whole("a", ARTICLE)], {"a": ARTICLE})
    check_answer(answer, ARTICLE)  # still a weak candidate with valid spans
    assert answer.confidence < 0.01  # sigmoid(4 - 30): the pipeline abstains


def test_max_answer_length_is_respected(model_dir: Path) -> None:
    reader = TransformersReader(str(model_dir), max_seq_length=96, doc_stride=16, max_answer_tokens=3)
    oracle(reader, "Engineers", "engineer")  # start and end far apart
    answer = reader.read("Who?", [whole("a", ARTICLE)], {"a": ARTICLE})
    check_answer(answer, ARTICLE)
    assert len(reader._tokenizer.tokenize(answer.answer)) <= 3


UNICODE_TEXTS = {
    "emoji": "Fans cheered 🎉🎉 as the 👩‍👩‍👧 family arrived. The mayor said “welcome home” — twice.",
    "marks": "Cafe\u0301 owners in Sa\u0303o Paulo and Ko\u0308ln met Zoë. Nguye\u0302\u0303n spoke first.",
    "cjk": "The delegation visited 東京 and 北京 in March. Officials signed a “framework” agreement.",
    "rtl": "The envoy quoted «السلام عليكم» before the vote. Delegates applauded for 3\u00a0minutes.",
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_model_spans_are_exact_and_grapheme_safe(tmp_path: Path, model_dir: Path, seed: int) -> None:
    from transformers import BertForQuestionAnswering

    torch.manual_seed(seed)
    model = BertForQuestionAnswering.from_pretrained(model_dir)
    with torch.no_grad():
        model.qa_outputs.weight.normal_(0, 1.0)
    path = tmp_path / "random"
    shutil.copytree(model_dir, path)
    model.save_pretrained(path)
    reader = TransformersReader(str(path), max_seq_length=32, doc_stride=8, max_answer_tokens=6)
    passages = [whole(k, v) for k, v in UNICODE_TEXTS.items()]
    cands = reader.candidates("Who spoke first and where?", passages, UNICODE_TEXTS)
    assert len(cands) >= len(UNICODE_TEXTS)
    for c in cands:
        text = UNICODE_TEXTS[c.article_id]
        span = text[c.start:c.end]
        assert span and span == span.strip() and 0.0 <= c.confidence <= 1.0
        assert not unicodedata.combining(text[c.start])
        assert c.end == len(text) or not unicodedata.combining(text[c.end])
        assert text[c.end - 1] != "\u200d" and (c.end == len(text) or text[c.end] != "\u200d")
    answer = reader.read("Who spoke first?", passages, UNICODE_TEXTS)
    check_answer(answer, UNICODE_TEXTS[answer.article_id])


def test_model_errors_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ReaderUnavailable, match="reader.transformers.model is empty"):
        TransformersReader("")
    reader = TransformersReader(str(tmp_path / "missing"))
    with pytest.raises(ReaderUnavailable, match="never downloads"):
        reader.read("Who?", [whole("a", ARTICLE)], {"a": ARTICLE})


def test_make_reader_builds_it_from_settings(make_settings, model_dir: Path) -> None:
    from retrieval.readers import make_reader

    cfg = make_settings(reader={"name": "transformers",
                                "transformers": {"model": str(model_dir), "max_seq_length": 128}})
    reader = make_reader(cfg, embedder=None)  # type: ignore[arg-type]
    assert isinstance(reader, TransformersReader) and reader.max_seq_length == 128
    answer = reader.read("Who?", [whole("a", ARTICLE)], {"a": ARTICLE})
    check_answer(answer, ARTICLE)
    assert answer.confidence == pytest.approx(0.5)  # flat head: span score == null score
    with pytest.raises(ValueError, match="reader.transformers.model"):
        make_reader(make_settings(reader={"name": "transformers"}), embedder=None)  # type: ignore[arg-type]
