"""Rules every answer must pass, whatever proposed it: the answer's type, and the
question's constraints.

**Answer typing** (a rule, not a weight). The expected kind comes from the question's
wh-word and head noun (``retrieval.question.analyze_question``):

=============  ===============================================================
kind           a span passes when it holds ...
=============  ===============================================================
``person``     who/whom/whose: a PERSON, ORG, NORP or GPE entity, or a titled
               role ("the city's finance director", "a police spokesperson")
``individual`` who + a verb only a person does (scored, painted, wrote,
               composed, sang, directed, starred): a PERSON entity or a
               titled role, never an ORG/GPE/NORP alone ("Fenwick Foxes" for
               "who scored the winning goal?")
``date``       when / what year / how soon: a DATE or TIME entity, a year, a
               month or weekday name, or a relative date ("last week"); "on
               what date / what day": a month or weekday name, a numeric date
               or today/yesterday, not a bare year
``number``     how many / how much / what percentage: a digit or number word;
               money when the head noun is money-like (budget, cost, price),
               a percentage when it is a share (rate, share, percentage);
               never money or a percentage for a weight, size, distance, age
               or duration (weigh, tall, far, long, old)
``place``      where / which city, country ...: a GPE, LOC or FAC entity, or a
               capitalised name (a venue or an organisation's premises)
``thing``      what / which + any other head noun ("which age group", "which
               show"): anything but a span that is only a date or time (heads
               like time, season, week may be answered by one: no rule)
``None``       any other question: no type rule
=============  ===============================================================

**Question constraints**. A year, a number, a quoted title or a proper name in the
question has to be found in the evidence sentence or its neighbourhood (``context``), or in
the article's title or date; a decoy ("What did the council approve in 2019?" over a 2023
story, "How many does it employ in Kestrel Bay?" answered from a sentence about another
town) fails it. Name matching is by word (any word of 3+ letters of the name, case-folded);
numbers are compared digit for digit after dropping thousands separators. A "who won ...?"
question also states an outcome: its evidence must say that someone won (won, winner,
victory, elected, defeated, beat, champion ...), so a poll story naming the candidates does
not answer who won the election.

Entity labels are spaCy/OntoNotes labels from ``en_core_web_sm``; the rules follow the
answer-type taxonomy of Li & Roth (2002) collapsed to the kinds a news reader is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.question import STOPWORDS, QuestionAnalysis

__all__ = ["Constraint", "TYPED_KINDS", "expected_kind", "question_constraints", "constraint_support", "type_ok",
           "ROLE_NOUNS", "MONTHS"]

MONTHS = ("january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec").split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_RELATIVE_DATES = "today yesterday tomorrow tonight spring summer autumn winter weekend".split()
_RELATIVE_MARKS = re.compile(r"\b(last|next|this|earlier|later|ago|early|late|mid|since|until|by)\b", re.IGNORECASE)
_PERIODS = "week weeks month months year years decade decades century morning evening night".split()
_NUMBER_WORDS = set("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety
    hundred hundreds thousand thousands million millions billion billions trillion dozen dozens half
    quarter third several""".split())
ROLE_NOUNS = frozenset("""president minister secretary director spokesperson spokesman spokeswoman official
    officials chief chair chairman chairwoman chairperson mayor governor senator ambassador commissioner
    judge prosecutor attorney lawyer police officer officers sheriff captain general commander leader
    leaders head executive ceo founder manager coach analyst analysts economist economists expert
    experts researcher researchers scientist scientists professor doctor doctors nurse union council
    committee government ministry department agency authority authorities company firm organisers
    organizers residents witnesses investigators regulators lawmakers campaigners activists
    representative spokespeople board court prime king queen owner author""".split())
_MONEY_HEADS = frozenset("budget cost price fee fine salary prize jackpot sum revenue value worth amount "
                         "funding deficit shortfall surplus debt loan grant payment bill profit loss "
                         "income spending investment damages compensation settlement wage".split())
_SHARE_HEADS = frozenset("percentage percent rate proportion share".split())
_MEASURE_WH = frozenset({"how heavy", "how tall", "how deep", "how old"})
_MEASURE_WORDS = frozenset("weigh weighs weighed weight heavy mass tall height long length distance far deep "
                           "depth old age".split())
_PRICE_WORDS = frozenset("price prices rent rents fare fares cost costs pay paid earn earned spend spent".split())
_CURRENCY = re.compile(r"[$€£¥₹]|\b(dollars?|euros?|pounds?|yen|yuan|rupees?|francs?|pesos?|cents?|usd|eur|gbp)\b",
                       re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")
_YEAR = re.compile(r"(?<![\d.,])(1[6-9]\d\d|20\d\d)(?![\d.,])")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"[“\"]([^“”\"]{2,80})[”\"]")
# A name right after one of these is where the question happens ("employ in Kestrel Bay",
# "the fire at Hallstadt"): a place the evidence must name, unlike the question's subject,
# which the evidence often calls "the company" or "she".
_LOCATIVE = re.compile(r"\b(?:in|at|near|outside|inside|across|throughout)(?:\s+the)?$", re.IGNORECASE)
_NAME = re.compile(r"[A-Z][\w’'\-.]*(?:\s+(?:of|de|van|von|al|bin|the|la|le|du|del)?\s*[A-Z][\w’'\-.]*)*")


@dataclass(frozen=True)
class Constraint:
    """Something the question states that the evidence must state too: ``kind`` is
    ``"year" | "number" | "title" | "name" | "place" | "outcome"`` (``place``: a name after
    a locative preposition, "in Kestrel Bay"; ``outcome``: the "won" of "who won ...?"),
    ``text`` as written in the question."""

    kind: str
    text: str


# Head nouns of "what / which <noun>" that a date or time may answer ("what time", "which
# season"); any other head ("which age group", "which show") is a thing, never a date.
_TIME_HEADS = frozenset("time hour season week weekend century era period morning night evening age term "
                        "quarter holiday anniversary occasion stage point moment phase".split())
_DATE_FILLERS = frozenset("on in of the this last next early late mid ago since until by at am pm noon "
                          "midnight day days hour hours".split())
TYPED_KINDS = frozenset({"person", "individual", "date", "number", "place"})
_INDIVIDUAL_VERBS = re.compile(r"\b(scor(?:e|es|ed|ing)|paint(?:s|ed)?|wr(?:ote|itten|ites)|compos(?:e|es|ed)|sang|sings?|"
                               r"direct(?:s|ed)|starr(?:ed|ing)|stars|sculpt(?:s|ed)|marri(?:ed|es)|married)\b", re.IGNORECASE)


def expected_kind(analysis: QuestionAnalysis) -> str | None:
    """``"person" | "individual" | "date" | "number" | "place" | "thing"`` or None (no type
    rule); see the module table."""
    wh, head = analysis.wh, analysis.head
    types = analysis.expected_types
    if wh in {"who", "whom", "whose"}:
        return "individual" if _INDIVIDUAL_VERBS.search(analysis.focus) else "person"
    if wh in {"when", "how soon"} or (wh in {"what", "which"} and head in {"year", "date", "day", "month", "decade"}):
        return "date"
    if wh in {"how many", "how much", "how large", "how big", "how old", "how far", "how long", "how fast",
              "how high", "how tall", "how deep", "how heavy"} or (wh in {"what", "which"} and head in _SHARE_HEADS | {"number", "figure", "total", "population"}):
        return "number"
    if wh == "where":
        return "place"
    if wh in {"what", "which"} and types and types <= {"GPE", "LOC", "FAC"}:
        return "place"
    if wh in {"what", "which"} and types and types <= {"PERSON"}:
        return "person"
    if wh in {"what", "which"} and head and head not in _TIME_HEADS:
        return "thing"
    return None


def number_unit(analysis: QuestionAnalysis) -> str | None:
    """The unit a number answer must carry: ``"money"`` or ``"percent"`` when the
    question's head noun asks for one; ``"measure"`` when it asks for a physical quantity
    or an age or duration (weigh, tall, far, long, old ...: any number but a sum of money or
    a percentage, so "€640 million" is no weight); ``"day"`` for a date asked to the day
    ("On what date ...?", "What day ...?": a bare year is too coarse); else None."""
    words = set(re.findall(r"[a-z]+", analysis.focus.lower()))
    if analysis.head in _MONEY_HEADS or (analysis.wh in {"how much", "how large", "how big", "what"}
                                         and words & _MONEY_HEADS
                                         and not words & {"weigh", "weighs", "weighed", "weight", "tons", "tonnes", "percent", "percentage"}):
        return "money"
    if analysis.head in _SHARE_HEADS or words & {"percent", "percentage"}:
        return "percent"
    if (analysis.wh in _MEASURE_WH or words & _MEASURE_WORDS) and not words & (_MONEY_HEADS | _SHARE_HEADS | _PRICE_WORDS):
        return "measure"
    if analysis.wh in {"what", "which"} and analysis.head in {"date", "day"}:
        return "day"
    return None


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W_]+", text)}


# Entity labels (OntoNotes) that never answer "who": events, works, laws, languages,
# places and facilities, times and quantities.
_NOT_AGENTS = {"EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "LOC", "FAC", "DATE", "TIME", "MONEY", "PERCENT",
               "QUANTITY", "CARDINAL", "ORDINAL"}


def type_ok(kind: str | None, span_text: str, span_labels: set[str], unit: str | None = None,
            head_lemmas: set[str] | None = None) -> bool:
    """True when ``span_text`` (whose overlapping spaCy entity labels are ``span_labels``,
    and whose noun lemmas are ``head_lemmas``) is an answer of ``kind``; see the module table."""
    text = span_text.strip()
    if not text:
        return False
    words = _words(text)
    if kind is None:
        return True
    if kind == "individual":
        if "PERSON" in span_labels:
            return True
        if span_labels & {"ORG", "NORP", "GPE", "FAC", "LOC"}:
            return False
        return bool(words & ROLE_NOUNS or (head_lemmas or set()) & ROLE_NOUNS)
    if kind == "person":
        if span_labels & {"PERSON", "ORG", "NORP", "GPE"}:
            return True
        if words & ROLE_NOUNS or (head_lemmas or set()) & ROLE_NOUNS:
            return True
        if span_labels & _NOT_AGENTS:
            return False  # "the Battle of Hastings" is a name, but no one who did anything
        names = [w for w in re.findall(r"[^\W_]+", text) if w[:1].isupper() and w.lower() not in STOPWORDS]
        return bool(names) and not _DIGIT.search(text) and not words & set(MONTHS + _WEEKDAYS)
    if kind == "date":
        weekdays = {w.removesuffix("s") for w in words} & set(_WEEKDAYS)  # "Wednesdays" too
        if unit == "day" and not (weekdays or words & set(MONTHS) or words & {"today", "yesterday", "tomorrow", "tonight"}
                                  or _NUMERIC_DATE.search(text)):
            return False
        return bool(_YEAR.search(text) or weekdays or words & set(MONTHS) or words & set(_RELATIVE_DATES)
                    or (words & set(_PERIODS) and _RELATIVE_MARKS.search(text))
                    or (span_labels & {"DATE", "TIME"} and not re.fullmatch(r"[\w\s-]*(year|month|week|day|hour|minute)s?(-old|-long)?", text)))
    if kind == "number":
        numeric = bool(_DIGIT.search(text) or words & _NUMBER_WORDS
                       or span_labels & {"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})
        if not numeric:
            return False
        if unit == "money":
            return bool(_CURRENCY.search(text) or "MONEY" in span_labels)
        if unit == "percent":
            return "%" in text or "percent" in text.lower() or "PERCENT" in span_labels
        if unit == "measure":
            return not (_CURRENCY.search(text) or span_labels & {"MONEY", "PERCENT"} or "%" in text
                        or "percent" in text.lower())
        return True
    if kind == "thing":
        # "Which age group ...?" -> "Tuesday": a span that is nothing but a date or time.
        date_words = set(MONTHS) | set(_WEEKDAYS) | set(_RELATIVE_DATES) | set(_PERIODS) | _DATE_FILLERS
        return not (span_labels and span_labels <= {"DATE", "TIME"}
                    and all(w in date_words or w.removesuffix("s") in date_words or w.isdigit() for w in words))
    if kind == "place":
        if span_labels & {"GPE", "LOC", "FAC", "ORG"}:
            return True
        if span_labels & {"PERSON", "DATE", "TIME", "MONEY", "PERCENT", "CARDINAL", "NORP"}:
            return False
        names = [w for w in re.findall(r"[^\W_]+", text) if w[:1].isupper() and w.lower() not in STOPWORDS]
        return bool(names) and not _DIGIT.search(text) and not words & set(MONTHS + _WEEKDAYS)
    return True


# "Who won / wins / will win ...?": the evidence has to report a win, not only the contest.
_WHO_WON = re.compile(r"^\s*who\s+(?:(?:has|had|will|would|could|might|is\s+going\s+to)\s+)?(won|wins?|winning)\b",
                      re.IGNORECASE)
_WIN_WORDS = re.compile(r"\b(?:w[io]n|wins|winning|winners?|victor(?:y|ies|ious)?|victors|elected|re-?elected|"
                        r"defeat(?:s|ed|ing)?|beat(?:s|en|ing)?|champions?|championship|trophy|clinch(?:ed|es)?|"
                        r"triumph(?:s|ed)?|prevail(?:s|ed)?|awarded|landslide)\b", re.IGNORECASE)


def question_constraints(question: str, analysis: QuestionAnalysis) -> list[Constraint]:
    """The years, numbers, quoted titles and proper names stated in ``question``, and the
    outcome of a "who won ...?" question.

    Names are capitalised word runs not at the start of a sentence, minus stopwords,
    month/weekday names and the question's wh-words.
    """
    out: list[Constraint] = []
    m = _WHO_WON.match(question)
    if m:
        out.append(Constraint("outcome", m.group(1)))
    for m in _QUOTED.finditer(question):
        out.append(Constraint("title", m.group(1).strip(" ,.")))
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(question)]
    for m in _YEAR.finditer(question):
        out.append(Constraint("year", m.group(1)))
    for m in _NUMBER.finditer(question):
        if not _YEAR.fullmatch(m.group(0)) and not any(a <= m.start() < b for a, b in quoted):
            out.append(Constraint("number", m.group(0)))
    for m in _NAME.finditer(question):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        before = question[:m.start()].rstrip()
        sentence_start = not before or before[-1] in ".?!:“\"(" or before.endswith("—")
        words = [w for w in re.findall(r"[^\W_]+", m.group(0))
                 if w.lower() not in STOPWORDS and w.lower() not in MONTHS and w.lower() not in _WEEKDAYS
                 and len(w) >= 2]
        if sentence_start:
            words = words[1:] if words and m.group(0).split()[0].strip("’'") == words[0] else words
        if words:
            kind = "place" if _LOCATIVE.search(before) else "name"
            out.append(Constraint(kind, " ".join(words)))
    return out


def _digits(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def constraint_support(constraints: list[Constraint], context: str, title: str = "", published: str = "") -> tuple[float, bool]:
    """``(share of constraints found, all hard constraints found)`` in ``context``, the
    article's ``title`` and its ``published`` date. Years, numbers, titles and places are
    hard; a name (or place) is found when any of its words of 3+ letters is. Other names
    count only in the share: a question may name its subject, which the evidence calls
    "the company" or "she", so the caller decides with the share. An ``outcome`` is hard
    and left out of the share (the share is a calibrated feature, fitted without it)."""
    haystack = f"{context}\n{title}"
    outcome_ok = all(_WIN_WORDS.search(haystack) for c in constraints if c.kind == "outcome")
    constraints = [c for c in constraints if c.kind != "outcome"]
    if not constraints:
        return 1.0, outcome_ok
    low = haystack.lower()
    hay_words = _words(haystack)
    digits = _digits(haystack) | _digits(published or "")
    years = set(_YEAR.findall(haystack)) | set(_YEAR.findall(published or ""))
    found = 0
    hard_ok = True
    for c in constraints:
        if c.kind == "year":
            ok = c.text in years
        elif c.kind == "number":
            ok = c.text.replace(",", "") in digits
        elif c.kind == "title":
            ok = c.text.lower() in low or all(w in low for w in _words(c.text) if len(w) >= 3)
        else:
            ok = any(w in hay_words for w in _words(c.text) if len(w) >= 3)
        found += int(ok)
        if not ok and c.kind in {"year", "number", "title", "place"}:
            hard_ok = False
    return found / len(constraints), hard_ok and outcome_ok

