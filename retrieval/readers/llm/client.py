"""The OpenAI-compatible chat client of the ``llm`` reader: streamed chat completions
over plain ``httpx`` (server-sent events parsed here), with the errors named."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Iterator

import httpx

__all__ = ["ChatClient", "LLMError"]

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    """The chat endpoint failed: unreachable, timed out, answered 4xx/5xx, or streamed
    something that is not an OpenAI chat-completions event stream. The message says
    which, with the URL and the setting to check."""



class ChatClient:
    """Minimal OpenAI-compatible chat-completions client (httpx, SSE streaming).

    ``base_url`` ends before ``/chat/completions`` (e.g. ``http://127.0.0.1:11434/v1``);
    ``api_key_env`` names the environment variable holding a bearer token (read at each
    request; unset = no ``Authorization`` header). ``timeout`` (seconds) bounds the whole
    reply and each wait for a chunk; ``connect_timeout`` the TCP/TLS connect.
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "BYLINE_LLM_API_KEY",
                 timeout: float = 120.0, connect_timeout: float = 5.0, max_tokens: int = 300,
                 temperature: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=min(self.connect_timeout, self.timeout)),
                    trust_env=False)
            return self._client

    def close(self) -> None:
        """Close the pooled connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _status_error(self, response: httpx.Response) -> LLMError:
        detail = ""
        try:
            body = response.json()
            err = body.get("error") if isinstance(body, dict) else None
            detail = (err.get("message") if isinstance(err, dict) else err) or body.get("detail") or ""
        except (ValueError, AttributeError):
            detail = response.text
        detail = " ".join(str(detail).split())[:300]
        status = response.status_code
        msg = f"the LLM endpoint {self.url} answered HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            has_key = bool(os.environ.get(self.api_key_env, "").strip()) if self.api_key_env else False
            msg += (f"; check the API key in the environment variable {self.api_key_env}" if has_key else
                    f"; it wants an API key: put it in the environment variable {self.api_key_env or '(reader.llm.api_key_env)'}")
        elif status == 404:
            msg += f"; check reader.llm.base_url (usually ending in /v1) and reader.llm.model ({self.model!r})"
        return LLMError(msg)

    def stream_chat(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Iterator[str]:
        """Yield the text deltas of one streamed chat completion.

        Raises :class:`LLMError` on connection failure, timeout (``timeout`` seconds for
        the whole reply), HTTP status >= 400, an ``error`` event, malformed JSON, or a
        stream that ends without ``[DONE]`` or a ``finish_reason``.
        """
        body = {"model": self.model, "messages": messages, "stream": True,
                "max_tokens": max_tokens or self.max_tokens, "temperature": self.temperature}
        deadline = time.monotonic() + self.timeout
        try:
            with self._http().stream("POST", self.url, json=body, headers=self._headers()) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._status_error(response)
                ctype = response.headers.get("content-type", "").lower()
                if "text/event-stream" not in ctype:
                    yield self._whole_completion(response, ctype)
                    return
                done = finished = False
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise LLMError(f"the LLM endpoint {self.url} did not finish within {self.timeout:g} s "
                                       "(reader.llm.timeout)")
                    line = line.strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, event:/id: fields
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    text, stop = self._parse_event(data)
                    finished = finished or stop
                    if text:
                        yield text
                if not (done or finished):
                    raise LLMError(f"the LLM endpoint {self.url} closed the stream before the reply was complete")
        except httpx.TimeoutException as exc:
            kind = "connect to" if isinstance(exc, httpx.ConnectTimeout) else "get a reply from"
            raise LLMError(f"could not {kind} the LLM endpoint {self.url} within "
                           f"{self.connect_timeout if kind == 'connect to' else self.timeout:g} s "
                           "(reader.llm.timeout / connect_timeout)") from exc
        except httpx.ConnectError as exc:
            raise LLMError(f"could not connect to the LLM endpoint {self.url} ({exc}); is the server running? "
                           "(reader.llm.base_url)") from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"the connection to the LLM endpoint {self.url} failed: {type(exc).__name__}: {exc}") from exc

    def _parse_event(self, data: str) -> tuple[str, bool]:
        """``(content delta, finished)`` of one ``data:`` payload; raises LLMError if malformed."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMError(f"malformed stream from {self.url}: not JSON: {data[:120]!r}") from None
        if not isinstance(chunk, dict):
            raise LLMError(f"malformed stream from {self.url}: {data[:120]!r}")
        if chunk.get("error"):
            err = chunk["error"]
            raise LLMError(f"the LLM endpoint {self.url} reported an error: "
                           f"{err.get('message', err) if isinstance(err, dict) else err}")
        choices = chunk.get("choices")
        if not choices:
            return "", False  # e.g. a final usage-only chunk
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise LLMError(f"malformed stream from {self.url}: {data[:120]!r}")
        choice = choices[0]
        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if content is None:
            content = choice.get("text") or ""  # legacy completions-style chunks
        if not isinstance(content, str):
            raise LLMError(f"malformed stream from {self.url}: content is {type(content).__name__}")
        return content, bool(choice.get("finish_reason"))

    def _whole_completion(self, response: httpx.Response, ctype: str) -> str:
        """The content of a non-streamed JSON completion (servers that ignore ``stream``)."""
        response.read()
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"the LLM endpoint {self.url} sent {ctype or 'no content type'}, not a chat "
                           f"completion: {response.text[:120]!r}") from None
        if not isinstance(content, str):
            raise LLMError(f"malformed completion from {self.url}")
        return content

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> str:
        """The whole reply text (streamed and joined). Raises :class:`LLMError`."""
        return "".join(self.stream_chat(messages, max_tokens=max_tokens))
