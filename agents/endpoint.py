"""Any OpenAI-compatible chat endpoint (vLLM or SGLang servers, hosted APIs) as a spy-game player.

Each observation becomes one user message, the picture as a PNG data URL then the env's prompt (the order
HFVLMPolicy gives its chat template), sampled with the game's settings. The server applies the model's
chat template and its own defaults to whatever the request leaves unset. No torch, no client library:
HTTP is `agents.chat_client` (standard library).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agents.base import Policy
from agents.chat_client import ChatClient, EndpointError
from agents.endpoint_spec import EndpointSpec, parse_endpoint_spec
from agents.request_seeds import RequestSeeds
from agents.sampling import Sampling


def image_data_url(image: Any) -> str:
    """A uint8 HxWx3 picture as a `data:image/png;base64,...` URL (lossless: the server sees our pixels)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def reply_text(reply: Any, url: str) -> str:
    """The assistant's text of a chat completion ("" when it holds none: the game judges an invalid turn)."""
    try:
        content = reply["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise EndpointError(f"{url}: the reply is not a chat completion (no choices[0].message)") from None
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


class EndpointPolicy(Policy):
    """A model served behind an OpenAI-compatible `/chat/completions`, with the game's sampling settings.

    `extra_body` is merged into every request (server-specific settings such as vLLM's `top_k` or
    `allowed_token_ids`). A seeded policy gives each request its own seed drawn from its stream, so a
    server that honours `seed` replays a game. `check` asks the server's `/models` once, so a server that
    is not there, a rejected key or a model it does not serve fails before any game starts.
    """

    name = "endpoint"

    def __init__(
        self,
        spec: EndpointSpec,
        *,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        check: bool = True,
        label: str = "",
    ) -> None:
        self.label = label
        self.sampling = Sampling(spec.temperature, spec.top_p, spec.max_new_tokens)
        self.spec = spec
        self.extra_body = dict(extra_body or {})
        self.client = ChatClient(spec.base_url, spec.api_key(), spec.timeout, spec.retries)
        self.seeds = RequestSeeds(seed)
        if check:
            self._check_model()

    @classmethod
    def from_spec(cls, spec: str, seed: int | None = None, **kwargs: Any) -> EndpointPolicy:
        """The policy an `openai:MODEL@URL;...` spec names (see agents.endpoint_spec for the grammar)."""
        return cls(parse_endpoint_spec(spec), seed=seed, **kwargs)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the stream each request's seed is drawn from."""
        self.seeds.reset(seed)

    def act(self, observation: Mapping[str, Any]) -> str:
        """The model's reply to one observation."""
        return self.act_batch([observation])[0]

    def act_batch(self, observations: Sequence[Mapping[str, Any]]) -> list[str]:
        """Replies in order, with up to `concurrency` requests in flight; the first failure stops the rest."""
        payloads = [self.payload(obs) for obs in observations]  # seeds drawn in order, before any thread
        if not payloads:
            return []
        with ThreadPoolExecutor(max_workers=min(self.spec.concurrency, len(payloads))) as pool:
            futures = [pool.submit(self._reply, payload) for payload in payloads]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def payload(self, observation: Mapping[str, Any]) -> dict[str, Any]:
        """The chat-completions request body for one observation."""
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image_data_url(observation["image"])}},
                        {"type": "text", "text": observation["prompt"]},
                    ],
                }
            ],
            "temperature": self.sampling.temperature,
            "max_tokens": self.sampling.max_new_tokens,
            "n": 1,
        }
        if self.sampling.temperature > 0:
            body["top_p"] = self.sampling.top_p
        seed = self.seeds.next()
        if seed is not None:
            body["seed"] = seed
        return {**body, **self.extra_body}

    def _reply(self, payload: dict[str, Any]) -> str:
        return reply_text(self.client.chat(payload), self.client.base_url)

    def _check_model(self) -> None:
        served = self.client.served_models()
        if served is not None and self.spec.model not in served:
            listed = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
            raise EndpointError(
                f"{self.client.base_url} does not serve {self.spec.model!r} (it serves {listed})"
            )
