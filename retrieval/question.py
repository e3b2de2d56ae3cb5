"""Question analysis for the offline reader: wh-word, head noun, expected answer types, keywords.

Rule-based (no model), in the tradition of answer-type classification for factoid QA
(Li & Roth 2002, "Learning Question Classifiers"; the wh-word + head-noun heuristics of
Jurafsky & Martin, *Speech and Language Processing*, ch. 14 "Question Answering").
Expected types are spaCy/OntoNotes entity labels (PERSON, ORG, GPE, DATE, ...).

Quiz-style inputs are handled: a statement followed by the question ("A cheese product
is booming. Which product is it?"), a wh-word in mid-sentence ("Voters in which state
..."), and fill-in-the-blank stems ending with ``:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from corpus.nlp import DEFAULT_SPACY_MODEL, get_nlp

__all__ = ["QuestionAnalysis", "analyze_question", "content_words", "get_nlp", "STOPWORDS"]

STOPWORDS = frozenset(
    """a an the and or but nor so yet of in on at to for from by with without into onto over under
    about above below after before between through during since until upon within across against
    among around behind beyond near off out up down than then as if while because although though
    is are was were be been being am do does did doing done have has had having will would shall
    should can could may might must ought i me my mine we us our ours you your yours he him his she
    her hers it its they them their theirs this that these those there here who whom whose which
    what when where why how whatever whichever whoever not no yes also just only very too more most
    much many some any all each every both either neither other another such same own s t
    one ones get got gets make made let lets say said says tell told according recently reportedly
    this week weeks year years month months day days today yesterday tuesday monday wednesday
    thursday friday saturday sunday last new first""".split()
)
# Words kept out of keywords but *not* out of the stopword test used for ``content_words``;
# (weekday and "this week" words carry little in a quiz question).

WH_WORDS = ("who", "whom", "whose", "when", "where", "which", "what", "why", "how")

# Head noun (lower-case, singular) -> expected entity labels.
_HEAD_TYPES: dict[str, tuple[str, ...]] = {}


def _heads(labels: tuple[str, ...], words: str) -> None:
    for word in words.split():
        _HEAD_TYPES[word] = labels


_heads(("GPE", "NORP"), "country nation countries")
_heads(("GPE", "LOC"), "state city town village capital county province region territory "
       "continent island place location area neighborhood neighbourhood district destination "
       "suburb municipality borough")
_heads(("LOC", "GPE", "FAC"), "river lake mountain ocean sea park volcano desert beach coast")
_heads(("FAC", "GPE", "ORG"), "landmark building airport stadium bridge venue museum hotel "
       "restaurant prison palace")
_heads(("ORG",), "company firm organization organisation corporation group team club party "
       "agency brand network platform app airline bank retailer university college school "
       "newspaper outlet business maker manufacturer chain startup carrier league union "
       "ministry department institution charity publication magazine channel studio "
       "automaker broadcaster giant service website site company's store supermarket "
       "insurer lender court body committee")
_heads(("PERSON",), "person man woman player actor actress singer star rapper musician artist "
       "author writer leader president politician senator candidate athlete celebrity king "
       "queen prince princess director ceo founder official judge lawmaker governor mayor "
       "minister chancellor pope host presenter comedian journalist scientist owner chef "
       "coach manager boxer golfer footballer driver model billionaire entrepreneur "
       "astronaut designer character hero protagonist villain winner champion son daughter "
       "head wife husband father mother brother sister child name spokesperson spokesman executive "
       "representative rep congressman congresswoman member figure icon personality")
_heads(("PERSON", "ORG"), "band duo siblings individual")
_heads(("NORP",), "nationality religion ethnicity")
_heads(("DATE",), "year month day date decade century age birthday anniversary era")
_heads(("TIME",), "time hour")
_heads(("WORK_OF_ART",), "show film movie book song album series novel play painting musical "
       "documentary sitcom drama tv programme program franchise title podcast poem opera "
       "episode sequel")
_heads(("EVENT",), "event tournament festival championship war storm hurricane competition "
       "contest race cup games award awards ceremony")
_heads(("LANGUAGE", "NORP"), "language")
_heads(("PRODUCT",), "product drink car device vehicle phone drug vaccine medicine model "
       "console gadget aircraft plane ship")
_heads(("MONEY",), "price cost salary fee fine budget prize jackpot sum revenue value worth "
       "amount")
_heads(("PERCENT",), "percentage percent rate proportion share")
_heads(("QUANTITY", "CARDINAL"), "distance weight height length speed temperature depth size "
       "magnitude")
_heads(("CARDINAL", "MONEY", "QUANTITY", "PERCENT"), "number total figure count population")
_heads(("LAW",), "law act bill amendment")

# Types by wh-word (when there is no telling head noun).
_WH_TYPES: dict[str, tuple[str, ...]] = {
    "who": ("PERSON", "ORG", "NORP"),
    "whom": ("PERSON", "ORG", "NORP"),
    "whose": ("PERSON", "ORG", "NORP"),
    "when": ("DATE", "TIME", "EVENT"),
    "where": ("GPE", "LOC", "FAC", "ORG"),
    "how many": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "how much": ("MONEY", "QUANTITY", "PERCENT", "CARDINAL"),
    "how old": ("DATE", "CARDINAL"),
    "how long": ("DATE", "TIME", "QUANTITY", "CARDINAL"),
    "how soon": ("DATE", "TIME"),
    "how far": ("QUANTITY", "CARDINAL"),
    "how big": ("QUANTITY", "CARDINAL"),
    "how large": ("QUANTITY", "CARDINAL", "PERCENT"),
    "how fast": ("QUANTITY", "CARDINAL"),
    "how often": ("DATE", "TIME", "CARDINAL"),
    "what year": ("DATE",),
}

NUMERIC_TYPES = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME", "ORDINAL"})

_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:[’'.\-][^\W_]+)*", re.UNICODE)
_SENT_END = re.compile(r"(?<=[.?!])\s+")


def _singular(word: str) -> str:
    if word in _HEAD_TYPES or word in {"species", "series", "news"}:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` that are not stopwords (order kept, repeats kept).

    Possessive ``’s``/``'s`` is stripped; tokens are ``\\w`` runs joined by ``' . -``.
    """
    out = []
    for match in _WORD.finditer(text):
        raw = match.group(0)
        word = raw.lower().replace("’", "'")
        if raw.isupper() and len(raw) >= 2 and word in STOPWORDS:  # "US", "IT"
            out.append(word)
            continue
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS and not (len(word) == 1 and not word.isdigit()):
            out.append(word)
    return out


@dataclass(frozen=True)
class QuestionAnalysis:
    """What a question asks for.

    ``wh``: ``"who"``, ``"when"``, ``"where"``, ``"which"``, ``"what"``, ``"why"``, ``"how"``,
    ``"how many"``, ``"how much"``, ``"how old"``, ... or ``"other"`` (no wh-word, e.g. a
    fill-in stem). ``head``: the singular head noun after which/what/how-many (``"country"``)
    or None. ``expected_types``: spaCy entity labels a good answer has (empty = any noun
    phrase). ``answer_kind``: ``"entity"``, ``"number"``, ``"np"`` (a noun phrase of any
    type) or ``"clause"`` (why/how questions, "what did X say"). ``keywords``: content words
    of the whole input, lower-case, de-duplicated, in order. ``names``: capitalised words
    of the question (not sentence-initial), which matter most for matching.
    """

    text: str
    focus: str
    wh: str
    head: str | None
    expected_types: frozenset[str]
    answer_kind: str
    keywords: tuple[str, ...]
    names: tuple[str, ...]
    plural: bool = False

    @property
    def wants_number(self) -> bool:
        """True when the expected types are all numeric/temporal."""
        return bool(self.expected_types) and self.expected_types <= NUMERIC_TYPES


def _focus_sentence(question: str) -> str:
    """The sentence that carries the question: the last one with a wh-word or ``?``.

    Sentences are split with the reader's abbreviation-aware splitter, so "Roe v. Wade?"
    or "Dr. Biden" does not cut the question in two.
    """
    from retrieval.readers.sentences import split_sentences

    text = question.strip()
    parts = [text[a:b].strip() for a, b in split_sentences(text) if text[a:b].strip()]
    if not parts:
        return question.strip()
    for part in reversed(parts):
        words = {w.lower() for w in _WORD.findall(part)}
        if part.endswith("?") or words & set(WH_WORDS):
            return part
    return parts[-1]


_RUN_POS = {"ADJ", "NOUN", "PROPN", "NUM", "ADV", "PART", "PUNCT", "X"}


def _head_token(doc, i: int):  # a spacy Doc / Token
    """The head-noun token of the noun phrase right after token ``i`` (or None); see
    :func:`_head_after`."""
    run = []
    for tok in doc[i + 1: i + 8]:
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        participle = tok.tag_ in {"VBN", "VBG"} and nxt is not None and nxt.pos_ in {"NOUN", "ADJ", "PROPN"}
        if participle:
            run.append(tok)
            continue
        if tok.pos_ not in _RUN_POS or (tok.pos_ == "PUNCT" and tok.text not in "-–"):
            if tok.lower_ in {"of", "the"} and not run:
                continue
            break
        if tok.pos_ == "PART" and tok.text.replace("’", "'") == "'s":
            break
        run.append(tok)
    nouns = [t for t in run if t.pos_ in {"NOUN", "PROPN"}] or run[-1:]
    return nouns[-1] if nouns else None


# Units a "how many/how long" question counts in; the matching entity labels carry them
# ("187 minutes" is TIME, "12 years" is DATE in OntoNotes).
_TIME_UNITS = {"second": "TIME", "minute": "TIME", "hour": "TIME", "day": "DATE", "week": "DATE",
               "month": "DATE", "year": "DATE", "decade": "DATE"}
_COUNT_WORDS = {"two", "three", "four", "five", "both", "several", "multiple"}


def _head_after(doc, i: int) -> str | None:  # a spacy Doc
    """Singular lower-case head noun of the noun phrase right after token ``i`` (or None).

    The run stops at the first verb, auxiliary, adposition, determiner or pronoun; a
    possessive inside the run ("which company's stock") makes the possessor the head.
    """
    run = []
    for tok in doc[i + 1: i + 8]:
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        participle = tok.tag_ in {"VBN", "VBG"} and nxt is not None and nxt.pos_ in {"NOUN", "ADJ", "PROPN"}
        if participle:  # "which embattled celebrity"
            run.append(tok)
            continue
        if tok.pos_ not in _RUN_POS or (tok.pos_ == "PUNCT" and tok.text not in "-–"):
            if tok.lower_ in {"of", "the"} and not run:  # "which of the", "what the ..."
                continue
            break
        if tok.pos_ == "PART" and tok.text.replace("’", "'") == "'s":
            break
        run.append(tok)
    nouns = [t for t in run if t.pos_ in {"NOUN", "PROPN"}] or run[-1:]
    if not nouns:
        return None
    return _singular(nouns[-1].lower_)


@lru_cache(maxsize=2048)
def analyze_question(question: str, spacy_model: str = DEFAULT_SPACY_MODEL) -> QuestionAnalysis:
    """Analyse ``question`` (any string; empty gives ``wh="other"`` and no keywords).

    Parses only the focus sentence with spaCy (``spacy_model``, ~3 ms) for the head noun.
    """
    focus = _focus_sentence(question)
    doc = get_nlp(spacy_model)(focus)
    words = [t.lower_ for t in doc]
    wh, head, types, kind = "other", None, (), "np"
    whs = [t.i for t in doc if t.lower_ in WH_WORDS]
    # Skip relative pronouns ("..., who was associated with which group?") when possible.
    main = [i for i in whs if not any(a.dep_ in {"relcl", "acl"} for a in [doc[i], *doc[i].ancestors])]
    idx = (main[0] if main else whs[-1]) if whs else None
    if idx is not None:
        wh = words[idx]
        nxt = words[idx + 1] if idx + 1 < len(words) else ""
        if wh == "how" and f"how {nxt}" in _WH_TYPES:
            wh = f"how {nxt}"
            head = _head_after(doc, idx + 1)
        elif wh in {"which", "what", "whose"}:
            head = _head_after(doc, idx)
            if head is None and wh == "what" and nxt in {"is", "was", "are", "were", "'s"}:
                head = _head_after(doc, idx + 1)  # "What was the magnitude of ..."
            if head == "name" or (wh == "what" and head is None):
                # "What is the name of the ...", "What is her name?"
                j = next((k for k, w in enumerate(words) if w == "name" and k > idx), None)
                if j is not None:
                    of = next((k for k in range(j, len(words)) if words[k] == "of"), None)
                    head = (_head_after(doc, of) if of is not None else None) or "name"
    if head is not None and head in _HEAD_TYPES:
        types = _HEAD_TYPES[head]
        if head == "name" and wh == "what":
            types = ("PERSON", "ORG", "WORK_OF_ART", "PRODUCT")
    elif wh in _WH_TYPES:
        types = _WH_TYPES[wh]
    if wh in {"what", "which"} and head in {"year", "decade", "century"}:
        types = ("DATE",)
    if wh in {"how many", "how long"} and head in _TIME_UNITS:  # "how many minutes"
        types = tuple(types) + (_TIME_UNITS[head],)
    plural = False
    if idx is not None and head is not None:
        tok = _head_token(doc, idx + (1 if wh.startswith("how ") else 0))
        if tok is not None:
            plural = tok.tag_ in {"NNS", "NNPS"} or any(
                t.lower_ in _COUNT_WORDS for t in doc[idx + 1: tok.i])
    if wh in {"why", "how"}:
        kind = "clause"
    elif wh == "what" and head is None and re.search(r"\b(say|said|says|do|did|does|happen|happened|mean|stand)\b", focus.lower()):
        kind = "clause"
    elif types and set(types) <= NUMERIC_TYPES:
        kind = "number"
    elif types:
        kind = "entity"
    seen: dict[str, None] = {}
    for word in content_words(question):
        if word not in WH_WORDS and word != head:
            seen.setdefault(word, None)
    names = tuple(
        dict.fromkeys(
            w for k, w in enumerate(_WORD.findall(question))
            if w[:1].isupper() and k > 0 and w.lower() not in STOPWORDS
        )
    )
    return QuestionAnalysis(
        text=question,
        focus=focus,
        wh=wh,
        head=head,
        expected_types=frozenset(types),
        answer_kind=kind,
        keywords=tuple(seen),
        names=names,
        plural=plural,
    )
