"""``reader = "llm"``: answers written by an OpenAI-compatible chat model, shown only once
every citation has been checked against the articles.

Protocol: plain ``httpx`` ``POST {base_url}/chat/completions`` with ``"stream": true``;
the server-sent events (``data: {json}`` lines, ``data: [DONE]`` at the end) are parsed
here, so Ollama, vLLM, llama.cpp's server and OpenAI all work. A server that ignores
``stream`` and returns one JSON completion is accepted too.

Prompt: the system message says that passages are *data*, never instructions (an article
saying "ignore previous instructions" is quoted, not obeyed); the user message holds the
question and the retrieved passages, numbered and delimited by ``<passage n=...>`` tags.
The model is asked for ``Answer: <short answer> [n]`` followed by a sentence or two citing
``[n]`` and quoting its evidence verbatim in double quotes, or ``NOT FOUND``.

Verification (:func:`verify_reply`), before anything is shown as the answer:

* each ``[n]`` must name a passage of the prompt (``[9]`` of 3 passages is dropped);
* each quote (or, without quotes, the cited sentence) must align to an exact span of
  that passage's article (:func:`retrieval.readers.alignment.align`, rapidfuzz
  ``partial_ratio_alignment`` >= ``align_threshold``); unaligned citations are dropped
  and the sentences they supported are removed from the reply;
* the short answer is looked up inside the supporting sentence; it becomes the answer
  span when found there, otherwise the evidence sentence is the answer span.

A reply left without any verified citation, and every endpoint failure (connection
refused, timeout, HTTP 4xx/5xx, malformed stream), falls back to the offline reader
(built lazily), whose answer carries a note saying why.

Modules: :mod:`~retrieval.readers.llm.client` (the chat endpoint),
:mod:`~retrieval.readers.llm.prompt` (what is sent), :mod:`~retrieval.readers.llm.verify`
(what is checked), :mod:`~retrieval.readers.llm.reader` (the reader).
"""

from __future__ import annotations

from retrieval.readers.llm.client import ChatClient, LLMError
from retrieval.readers.llm.prompt import (NOT_FOUND, REWRITE_PROMPT, SYSTEM_PROMPT, PromptPassage, build_messages,
                                          prompt_passages)
from retrieval.readers.llm.reader import LLMAnswer, LLMReader
from retrieval.readers.llm.verify import Claim, VerifiedReply, verify_reply

__all__ = [
    "NOT_FOUND", "REWRITE_PROMPT", "SYSTEM_PROMPT",
    "ChatClient", "Claim", "LLMAnswer", "LLMError", "LLMReader", "PromptPassage", "VerifiedReply",
    "build_messages", "prompt_passages", "verify_reply",
]
