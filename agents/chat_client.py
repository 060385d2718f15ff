"""HTTP to an OpenAI-compatible server with the standard library: JSON requests, retries, keys kept out.

The key travels only in the Authorization header; every error message passes through `_redact`, so a
server that echoes the header back still never puts the key into a transcript, a log or a traceback.
"""

from __future__ import annotations

import http.client
import json
import random
import urllib.error
import urllib.request
from time import sleep
from typing import Any

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
BODY_EXCERPT = 200  # characters of a server's error body quoted in an EndpointError


class EndpointError(RuntimeError):
    """The endpoint cannot be reached, rejects the request or keeps failing: one line, never the key."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ChatClient:
    """Requests to one base URL, retried with exponential backoff on 429, 5xx, timeouts and lost links."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float,
        retries: int,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def __repr__(self) -> str:
        return f"ChatClient({self.base_url!r}, key={'set' if self._api_key else 'none'})"

    def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /chat/completions and return the decoded reply, after retries."""
        return self.request("/chat/completions", payload, self.retries)

    def served_models(self) -> list[str] | None:
        """The ids GET /models lists (one try; the server must be there), or None when it lists none."""
        try:
            reply = self.request("/models", None, retries=0)
        except EndpointError as err:
            if err.status == 404:
                return None
            raise
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list):
            return None
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]

    def request(self, path: str, payload: dict[str, Any] | None, retries: int) -> Any:
        """One JSON request (POST with a payload, else GET), tried up to 1 + `retries` times."""
        url = self.base_url + path
        failure = ""
        for attempt in range(retries + 1):
            delay = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
            try:
                with urllib.request.urlopen(self._build(url, payload), timeout=self.timeout) as response:
                    body = response.read()
            except urllib.error.HTTPError as err:
                failure = f"HTTP {err.code}{self._excerpt(err)}"
                if err.code not in RETRIED_STATUSES:
                    raise EndpointError(self._redact(f"{url}: {failure}"), err.code) from None
                delay = max(delay, _retry_after(err, self.max_backoff))
            except urllib.error.URLError as err:
                failure = f"cannot connect ({_reason(err.reason)})"
            except TimeoutError:
                failure = f"no reply within {self.timeout:g}s"
            except (ConnectionError, http.client.HTTPException) as err:
                failure = _reason(err)
            else:
                try:
                    return json.loads(body)
                except ValueError:
                    raise EndpointError(f"{url}: the reply is not JSON") from None
            if attempt < retries:
                sleep(delay)
        tries = f" after {retries + 1} tries" if retries else ""
        raise EndpointError(self._redact(f"{url}: {failure}{tries}"))

    def _build(self, url: str, payload: dict[str, Any] | None) -> urllib.request.Request:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(payload).encode()
        method = "GET" if data is None else "POST"
        return urllib.request.Request(url, data=data, headers=headers, method=method)

    def _excerpt(self, err: urllib.error.HTTPError) -> str:
        """The start of the server's error body (its own explanation), on one line."""
        try:
            text = err.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return ""
        text = " ".join(self._redact(text).split())[:BODY_EXCERPT]  # redacted whole: no key prefix left
        return f": {text}" if text else ""

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _reason(reason: Any) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(getattr(reason, "strerror", None) or reason or type(reason).__name__)


def _retry_after(err: urllib.error.HTTPError, cap: float) -> float:
    """The server's Retry-After in seconds (capped), or 0 when it gives none or an HTTP date."""
    try:
        return min(cap, max(0.0, float(err.headers.get("Retry-After", 0))))
    except (TypeError, ValueError):
        return 0.0
