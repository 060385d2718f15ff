"""Endpoint specs: the one string (`openai:MODEL@URL;key=VAR;...`) that names a served model as a player.

Grammar: `openai:MODEL@BASE_URL` then any `;NAME=VALUE` options. MODEL is what the server serves (no `@` or
`;`), BASE_URL the OpenAI-style base (`http://host:8000/v1`; requests go to `BASE_URL/chat/completions`).
Options: `key` (the environment variable holding the API key; no key is sent without it), the game's
sampling settings `temperature`, `top_p`, `max_new_tokens`, and the client's `timeout` (seconds per
request), `retries` (after the first try, on 429, 5xx, timeouts and dropped connections) and `concurrency`
(requests in flight during one `act_batch`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

ENDPOINT_PREFIX = "openai:"
SPEC_FORM = "openai:MODEL@http://HOST:PORT/v1[;key=ENV_VAR][;temperature=T][;top_p=P][;max_new_tokens=N]..."
_SPEC = re.compile(r"openai:(?P<model>[^@;\s]+)@(?P<url>https?://[^;\s]+?)/?(?P<options>(?:;[^;]*)*)")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class EndpointSpec:
    """A parsed endpoint spec: where the model is served, which variable holds the key, how to sample."""

    model: str
    base_url: str
    key: str | None = None
    temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 256
    timeout: float = 60.0
    retries: int = 4
    concurrency: int = 8

    def api_key(self) -> str | None:
        """The key from the named environment variable (None when the spec names none); unset is an error."""
        if self.key is None:
            return None
        value = os.environ.get(self.key)
        if not value:
            raise ValueError(f"environment variable {self.key} (key= of the endpoint spec) is not set")
        return value


def _env_name(text: str) -> str:
    if not _ENV_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not an environment variable name")
    return text


def _at_least(minimum: float, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        value = kind(text)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return convert


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be positive, got {value}")
    return value


_OPTIONS: dict[str, Callable[[str], Any]] = {
    "key": _env_name,
    "temperature": float,
    "top_p": float,
    "max_new_tokens": int,
    "timeout": _positive_float,
    "retries": _at_least(0, int),
    "concurrency": _at_least(1, int),
}


def is_endpoint_spec(spec: str) -> bool:
    """True for specs that name a served model (they start with `openai:`), parseable or not."""
    return spec.startswith(ENDPOINT_PREFIX)


def parse_endpoint_spec(spec: str) -> EndpointSpec:
    """The spec's parts, or a one-line ValueError saying what does not parse."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise ValueError(f"endpoint spec {spec!r} does not parse: expected {SPEC_FORM}")
    parsed = EndpointSpec(model=match["model"], base_url=match["url"])
    for option in filter(None, match["options"].split(";")):
        name, sep, text = option.partition("=")
        name = name.strip()
        if not sep or name not in _OPTIONS:
            raise ValueError(
                f"endpoint spec option {option!r} is not NAME=VALUE with NAME one of {', '.join(_OPTIONS)}"
            )
        try:
            value = _OPTIONS[name](text.strip())
        except ValueError as err:
            raise ValueError(f"endpoint spec option {name}={text.strip()!r}: {err}") from None
        parsed = replace(parsed, **{name: value})
    return parsed
