"""The seats' program in verifiers: one chat completion per turn, in process, through the rollout's endpoint.

verifiers' own tool-less harness (`null`) launches a uv script in the runtime, which needs the network to
build; a game turn is one request, so this harness makes it from the rollout itself. The request goes
through the rollout's interception endpoint, so verifiers records the turn (tokens, sampling) as it does
for any harness, and the run's sampling settings apply there.
"""

from __future__ import annotations

from typing import Any

import httpx

from algorithms.engines.verifiers_version import load_verifiers

vf = load_verifiers()


class TurnHarnessConfig(vf.HarnessConfig):
    """No settings of its own: the model, sampling and endpoint are the run's."""


class TurnHarness(vf.Harness[TurnHarnessConfig]):
    """Sends the task's messages (system prompt first) and returns once the reply is recorded."""

    APPENDS_SYSTEM_PROMPT = True
    EXECUTES_CODE = False
    NEEDS_CONTAINER = False

    async def launch(
        self,
        ctx: Any,
        trace: Any,
        runtime: Any,
        endpoint: str,
        secret: str,
        mcp_urls: dict[str, str],
        data: Any,
    ) -> Any:
        """One chat completion of the turn's prompt; a refused request is the harness's error."""
        from verifiers.v1.dialects.chat import message_to_wire

        system, prompt = self.resolve_prompt(data)
        messages = [vf.SystemMessage(content=system)] if system else []
        messages += [vf.UserMessage(content=prompt)] if isinstance(prompt, str) else list(prompt or [])
        body = {"model": ctx.model, "messages": [message_to_wire(m) for m in messages]}
        async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0)) as client:
            response = await client.post(
                f"{endpoint.rstrip('/')}/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {secret}"},
            )
        if response.status_code != 200:
            return vf.ProgramResult(
                exit_code=1, stdout="", stderr=f"HTTP {response.status_code}: {response.text}"
            )
        return vf.ProgramResult(exit_code=0, stdout="", stderr="")
