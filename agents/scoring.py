"""Re-score sampled completions under a model, with gradient: the log-probs the Iterative-SPO loss needs.

Log-probs are taken on the exact sampled ids (never re-tokenised text), from temperature-scaled logits,
over completion tokens only, and match those `HFVLMPolicy.generate` returned for the same weights.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agents.hf_vlm import Generation, stack_inputs


@dataclass
class ScoringBatch:
    """Prompt + completion rows, right-padded, with each row's vision inputs concatenated in row order.

    `input_ids`, `attention_mask` and `token_inputs` are [B, L]; `completion_ids` and `completion_mask`
    are [B, T] with completion token j of row i at sequence position `prompt_lengths[i] + j`;
    `vision_splits[key]` gives each row's extent along dim 0 of `vision_inputs[key]`.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_inputs: dict[str, torch.Tensor]
    vision_inputs: dict[str, torch.Tensor]
    vision_splits: dict[str, list[int]]
    prompt_lengths: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def rows(self, start: int, stop: int) -> ScoringBatch:
        """Rows start..stop-1 as a batch of their own (vision inputs sliced to match)."""
        vision_inputs, vision_splits = {}, {}
        for key, tensor in self.vision_inputs.items():
            splits = self.vision_splits[key]
            begin = sum(splits[:start])
            vision_inputs[key] = tensor[begin : begin + sum(splits[start:stop])]
            vision_splits[key] = splits[start:stop]
        width = int(self.attention_mask[start:stop].sum(dim=1).max())
        return ScoringBatch(
            input_ids=self.input_ids[start:stop, :width],
            attention_mask=self.attention_mask[start:stop, :width],
            token_inputs={k: v[start:stop, :width] for k, v in self.token_inputs.items()},
            vision_inputs=vision_inputs,
            vision_splits=vision_splits,
            prompt_lengths=self.prompt_lengths[start:stop],
            completion_ids=self.completion_ids[start:stop],
            completion_mask=self.completion_mask[start:stop],
        )

    def model_inputs(
        self, device: torch.device | str, dtype: torch.dtype | None = None
    ) -> dict[str, torch.Tensor]:
        """Keyword arguments for the model's forward, on `device`, floating vision inputs cast to `dtype`."""
        inputs = {"input_ids": self.input_ids, "attention_mask": self.attention_mask, **self.token_inputs}
        inputs.update(self.vision_inputs)
        return {k: v.to(device, dtype if v.is_floating_point() else None) for k, v in inputs.items()}


def collate(generations: Sequence[Generation], pad_token_id: int) -> ScoringBatch:
    """One scoring batch from generations; samples that share an image each get their own copy of it."""
    if not generations:
        raise ValueError("cannot collate an empty list of generations")
    rows = [g.prompt.extended(g.completion_ids) for g in generations]
    stacked = stack_inputs(rows, pad_token_id, padding_side="right")
    width = max(int(g.completion_ids.shape[0]) for g in generations)
    completion_ids = torch.full((len(generations), width), pad_token_id, dtype=torch.long)
    completion_mask = torch.zeros((len(generations), width), dtype=torch.float32)
    for i, g in enumerate(generations):
        n = int(g.completion_ids.shape[0])
        completion_ids[i, :n] = g.completion_ids
        completion_mask[i, :n] = 1.0
    vision_keys = list(generations[0].prompt.vision_inputs)
    return ScoringBatch(
        input_ids=stacked.pop("input_ids"),
        attention_mask=stacked.pop("attention_mask"),
        token_inputs={k: stacked.pop(k) for k in list(stacked) if k not in vision_keys},
        vision_inputs={k: stacked[k] for k in vision_keys},
        vision_splits={k: [len(g.prompt.vision_inputs[k]) for g in generations] for k in vision_keys},
        prompt_lengths=torch.tensor([len(g.prompt) for g in generations], dtype=torch.long),
        completion_ids=completion_ids,
        completion_mask=completion_mask,
    )


def completion_logprobs(
    model: Any, batch: ScoringBatch, temperature: float, chunk_size: int | None = None
) -> torch.Tensor:
    """Log-probs [B, T] of the completion ids under log_softmax(logits / temperature), 0 where masked.

    Runs `chunk_size` rows per forward pass (all at once when None) to bound memory; differentiable
    unless called under torch.no_grad(). A temperature of 0 (greedy sampling) scores at temperature 1.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1 or None, got {chunk_size}")
    temperature = temperature if temperature > 0 else 1.0
    device = next(model.parameters()).device
    dtype = _floating_dtype(model)
    chunk_size = chunk_size or len(batch)
    pieces = []
    for start in range(0, len(batch), chunk_size):
        chunk = batch.rows(start, min(start + chunk_size, len(batch)))
        pieces.append(_chunk_logprobs(model, chunk, temperature, device, dtype))
    return torch.cat(pieces)


def _chunk_logprobs(
    model: Any, chunk: ScoringBatch, temperature: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    seq_len = chunk.input_ids.shape[1]
    completion_len = chunk.completion_ids.shape[1]
    # Only positions from the shortest prompt's last token on predict completion tokens.
    first = int(chunk.prompt_lengths.min()) - 1
    kwargs: dict[str, Any] = {"use_cache": False}
    if _accepts_logits_to_keep(model):
        kwargs["logits_to_keep"] = seq_len - first
    else:
        first = 0
    logits = model(**chunk.model_inputs(device, dtype), **kwargs).logits
    offsets = torch.arange(completion_len, device=device)
    positions = chunk.prompt_lengths.to(device)[:, None] - 1 - first + offsets
    positions = positions.clamp(max=logits.shape[1] - 1)
    picked = logits.gather(1, positions[..., None].expand(-1, -1, logits.shape[-1])).float() / temperature
    targets = chunk.completion_ids.to(device)[..., None]
    logprobs = (picked.gather(-1, targets) - torch.logsumexp(picked, dim=-1, keepdim=True)).squeeze(-1)
    return logprobs * chunk.completion_mask.to(device)


def _floating_dtype(model: Any) -> torch.dtype:
    return next(p.dtype for p in model.parameters() if p.is_floating_point())


def _accepts_logits_to_keep(model: Any) -> bool:
    """Whether the (unwrapped DDP / peft) model can skip the prompt's logits."""
    base = getattr(model, "module", model)
    base = base.get_base_model() if hasattr(base, "get_base_model") else base
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def supervised_step(
    optimizer: torch.optim.Optimizer,
    parameters: Sequence[torch.nn.Parameter],
    losses: Iterable[torch.Tensor],
    max_grad_norm: float,
) -> None:
    """One supervised optimizer step, shared by SFT and the tiny VLM's pretraining.

    Each loss of `losses` (a generator, so one chunk's graph is freed before the next is built) is
    back-propagated as it comes, its gradients accumulating; then the gradient norm is clipped and the
    optimizer steps.
    """
    optimizer.zero_grad(set_to_none=True)
    for loss in losses:
        loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
    optimizer.step()
