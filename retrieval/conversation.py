"""Offline, history-aware rewriting of follow-up questions into standalone queries.

Rule-based coreference in the spirit of the "rewrite then retrieve" setup of
conversational QA (e.g. CANARD, Elgohary et al. 2019), without a generative model:

* a third-person pronoun ("he", "his", "it", "they", ...) is replaced by the most recent
  fitting antecedent: a person (the previous answer when it is a name, else a PERSON
  entity of the earlier turns) for he/she/him/her/his, a non-person entity or noun phrase
  for it/its, a group/organisation for they/them/their;
* elliptical follow-ups ("What else did he say?", "And Germany?", "Why?") and every
  rewritten question get the salient words of the previous question appended in
  parentheses, so lexical and dense retrieval find the same article again;
* self-contained questions are returned unchanged.

spaCy (NER on the history) is loaded lazily once per process via ``question.get_nlp``.
"""

from __future__ import annotations

import re
from typing import Sequence

from retrieval.question import DEFAULT_SPACY_MODEL, WH_WORDS, content_words, get_nlp

__all__ = ["rewrite_followup"]

_PERSON_PRON = {"he": "", "him": "", "she": "", "his": "'s", "hers": "'s"}
_THING_PRON = {"it": "", "its": "'s"}
_GROUP_PRON = {"they": "", "them": "", "their": "'s", "theirs": "'s"}
_ALL_PRON = {**_PERSON_PRON, **_THING_PRON, **_GROUP_PRON, "her": ""}
_ELLIPSIS = re.compile(
    r"^\s*(and|what about|how about|what else|anything else|who else|tell me more|more)\b",
    re.IGNORECASE,
)
_PRON_RE = re.compile(r"\b(" + "|".join(sorted(_ALL_PRON, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def _looks_like_name(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 5 and all(w[:1].isupper() for w in words if w.lower() not in {"of", "de", "al", "bin"})


def _antecedents(history: Sequence[tuple[str, str]], model: str) -> tuple[str | None, str | None, str | None]:
    """Most recent (person, thing, group) mentions in ``history`` (latest turn first)."""
    nlp = get_nlp(model)
    person = thing = group = None
    for question, answer in reversed(history):
        ans = (answer or "").strip()
        qdoc = nlp(question)
        adoc = nlp(f"{question} {ans}")
        ans_labels = {e.label_ for e in adoc.ents if e.start_char >= len(question)}
        wh = next((t.lower_ for t in qdoc if t.lower_ in WH_WORDS), "")
        is_person = wh in {"who", "whom"} or ("PERSON" in ans_labels and wh not in {"which", "what"})
        if person is None and ans and _looks_like_name(ans) and is_person:
            person = ans
        if group is None and ans and ans_labels & {"ORG", "NORP"}:
            group = ans
        if thing is None and ans and _looks_like_name(ans) and not is_person:
            thing = ans
        for ent in qdoc.ents:
            if person is None and ent.label_ == "PERSON":
                person = ent.text
            elif group is None and ent.label_ in {"ORG", "NORP"}:
                group = ent.text
            elif thing is None and ent.label_ not in {"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT"}:
                thing = ent.text
        if thing is None:
            # A named person, organisation or place is the "he"/"they" antecedent above, not
            # the "it": "How large is the budget the City Council approved?" -> "it" = the budget.
            named = [(e.start, e.end) for e in qdoc.ents if e.label_ in {"PERSON", "ORG", "NORP", "GPE"}]
            chunks = [c for c in qdoc.noun_chunks if c.root.pos_ != "PRON"
                      and not any(s < c.end and c.start < e for s, e in named)]
            if chunks:
                thing = chunks[-1].text
        if person and thing and group:
            break
    return person, thing, group


def _substitute(question: str, person: str | None, thing: str | None, group: str | None) -> tuple[str, bool]:
    changed = False

    def repl(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        low = word.lower()
        target, suffix = None, ""
        if low == "her":  # object or possessive: possessive if a noun follows
            rest = question[match.end():].lstrip()
            nxt = rest.split(" ", 1)[0].strip("?.!,").lower() if rest else ""
            target, suffix = person, ("'s" if nxt and nxt not in {"to", "for", "about", "and", "in", "on"} else "")
        elif low in _PERSON_PRON:
            target, suffix = person, _PERSON_PRON[low]
        elif low in _THING_PRON:
            target, suffix = thing, _THING_PRON[low]
        elif low in _GROUP_PRON:
            target, suffix = group or thing, _GROUP_PRON[low]
        if not target:
            return word
        changed = True
        return target + suffix

    return _PRON_RE.sub(repl, question), changed


def _resolved_inside(question: str, spacy_model: str) -> bool:
    """True when every third-person pronoun of ``question`` has a candidate antecedent
    earlier in the question itself ("When did NASA say its probe would launch?",
    "Police arrested 31 men ... What were they planning?"): a named entity or a noun (not
    a pronoun) before it. Such a question is self-contained and is not rewritten."""
    doc = get_nlp(spacy_model)(question)
    pronouns = [t for t in doc if t.lower_ in _ALL_PRON]
    if not pronouns:
        return True
    wh_phrase: set[int] = set()
    for chunk in doc.noun_chunks:  # "Which country", "How many people": the asked-for thing
        first = doc[chunk.start - 1] if chunk.start > 0 else None
        if chunk[0].lower_ in WH_WORDS or (first is not None and first.lower_ in {"how", "many", "much"}):
            wh_phrase.update(range(chunk.start, chunk.end))
    for t in doc:
        if t.lower_ in WH_WORDS and t.i + 1 < len(doc):
            wh_phrase.add(t.i + 1)
    temporal = {t.i for e in doc.ents if e.label_ in {"DATE", "TIME", "CARDINAL", "ORDINAL"} for t in e}
    for pron in pronouns:
        candidates = [t for t in doc[: pron.i] if t.i not in wh_phrase and t.i not in temporal
                      and (t.pos_ == "PROPN" or (t.pos_ == "NOUN" and t.dep_ in {"nsubj", "nsubjpass", "dobj", "pobj", "conj", "appos"}))]
        if not candidates:
            return False
    return True


def rewrite_followup(question: str, history: Sequence[tuple[str, str]],
                     spacy_model: str = DEFAULT_SPACY_MODEL) -> str:
    """A standalone version of ``question`` given earlier ``(question, answer)`` turns.

    Returns ``question`` unchanged when there is no history or it is self-contained: no
    third-person pronoun without an antecedent inside the question itself, and not an
    elliptical fragment ("And Germany?", "What else?": an ellipsis opener with at most three
    content words, or a single content word). Otherwise pronouns are resolved and the
    salient words of the previous question that the follow-up lacks are appended, e.g.
    "Which country is he ambassador of?" after "Who estimated the number of Chinese
    fighters in Syria?" / "Imad Moustapha" ->
    "Which country is Imad Moustapha ambassador of? (estimated number Chinese fighters Syria)".
    """
    question = question.strip()
    if not history or not question:
        return question
    has_pron = bool(_PRON_RE.search(question)) and not _resolved_inside(question, spacy_model)
    elliptical = bool(_ELLIPSIS.match(question)) and len(content_words(question)) <= 3 \
        or len(content_words(question)) <= 1
    if not has_pron and not elliptical:
        return question
    person, thing, group = _antecedents(history, spacy_model)
    rewritten, _ = _substitute(question, person, thing, group) if has_pron else (question, False)
    present = set(content_words(rewritten))
    prev_q, prev_a = history[-1]
    extra = [w for w in dict.fromkeys(content_words(prev_q)) if w not in present and w not in WH_WORDS]
    if prev_a and prev_a.strip() and prev_a.strip() not in rewritten and elliptical and not has_pron:
        extra = [prev_a.strip()] + extra
    if extra:
        original = {w.lower(): w for w in re.findall(r"[^\W_]+(?:[’'.\-,][^\W_]+)*", prev_q)}
        extra = [original.get(w, w) for w in extra]
        rewritten = f"{rewritten} ({' '.join(extra)})"
    return rewritten
