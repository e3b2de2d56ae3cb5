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
    r"^\s*(and|what about|how about|what else|anything else|why|how|when|where|who else|tell me more|more)\b",
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
            chunks = [c for c in qdoc.noun_chunks if c.root.pos_ != "PRON"]
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


def rewrite_followup(question: str, history: Sequence[tuple[str, str]],
                     spacy_model: str = DEFAULT_SPACY_MODEL) -> str:
    """A standalone version of ``question`` given earlier ``(question, answer)`` turns.

    Returns ``question`` unchanged when there is no history or it is self-contained
    (no third-person pronoun, not elliptical). Otherwise pronouns are resolved and the
    salient words of the previous question that the follow-up lacks are appended, e.g.
    "Which country is he ambassador of?" after "Who estimated the number of Chinese
    fighters in Syria?" / "Imad Moustapha" ->
    "Which country is Imad Moustapha ambassador of? (estimated number Chinese fighters Syria)".
    """
    question = question.strip()
    if not history or not question:
        return question
    has_pron = bool(_PRON_RE.search(question))
    elliptical = bool(_ELLIPSIS.match(question)) or len(content_words(question)) <= 1
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
