"""Small talk is not a question: greetings, thanks, acknowledgements and farewells get a
short reply, never an extracted span or a citation.

A message is small talk when, lower-cased and stripped of punctuation and emoji, it is
made only of the phrases below (``"hi there"``, ``"ok thanks!"``, ``"good morning"``), so
"Thanks to whom did the council approve the budget?" is still a question. Rules, not a
model: the phrase lists are ours, covering English chat openers and closers.
"""

from __future__ import annotations

import re

__all__ = ["small_talk_reply"]

_GREETING = r"hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)|hi there|hello there|hey there"
_THANKS = r"thanks|thank you|thank you very much|thanks a lot|many thanks|cheers|thx|ty|much appreciated|great thanks"
_ACK = r"ok|okay|k|kk|sure|fine|cool|great|nice|good|alright|all right|got it|i see|understood|perfect|awesome|wow|lol|yes|no|yep|nope|yeah|right|hmm|hm|ah|oh"
_BYE = (r"bye|goodbye|good bye|see you|see ya|later|good night|take care|that s all|that is all|that will be all|"
        r"that s it|that s everything|nothing else|no more questions")
_HOWDY = r"how are you|how are you doing|how is it going|how s it going|what s up|whats up|sup"
_WHO_ARE_YOU = r"who are you|what are you|what can you do|help"
_PHRASE = re.compile(rf"(?:{_GREETING}|{_THANKS}|{_ACK}|{_BYE}|{_HOWDY}|{_WHO_ARE_YOU})")
_ALL = re.compile(rf"^(?:{_PHRASE.pattern})(?:\s+(?:{_PHRASE.pattern}))*(?:\s+(?:byline|bot|again|so much|everyone|all))?$")


def _normalise(message: str) -> str:
    text = message.lower().replace("’", "'").replace("'", " ")
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def small_talk_reply(message: str) -> str | None:
    """A short reply when ``message`` is small talk, else None (a question to answer)."""
    text = _normalise(message)
    if not text or not _ALL.match(text):
        return None
    if re.search(_THANKS, text):
        return "You're welcome. Ask another question about the articles whenever you like."
    if re.search(rf"^(?:{_BYE})", text):
        return "Goodbye."
    if re.search(_WHO_ARE_YOU, text):
        return ("I answer questions about the articles in this archive, quoting the sentence each "
                "answer comes from. Ask, for example, who said or estimated something, or when it happened.")
    if re.search(rf"^(?:{_GREETING}|{_HOWDY})", text):
        return "Hello. Ask me a question about the articles in the archive."
    return "Ask me a question about the articles in the archive, and I will quote where the answer comes from."
