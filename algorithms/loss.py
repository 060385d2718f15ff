"""The Iterative-SPO policy loss: PPO-clipped ratio objective plus k3 KL penalty, over completion tokens."""

from __future__ import annotations

import torch

from algorithms.train_config import LOSS_NORMS

LOSS_STATS = ("pg_loss", "kl", "clip_fraction", "ratio_mean", "is_weight_mean")
"""The names of the detached stats `policy_loss` returns beside the loss."""


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor | None,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    beta_kl: float,
    norm: str = "sequence",
    max_len: int | None = None,
    engine_logprobs: torch.Tensor | None = None,
    is_cap: float = 2.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Scalar loss to minimise, and detached stats, for B sampled completions of up to T tokens.

    `logprobs` [B, T] are the current policy's log-probs of the sampled tokens (with grad); `old_logprobs`
    those of the policy that sampled them (None: on-policy, the detached `logprobs`); `ref_logprobs` the
    reference policy's (None allowed only when `beta_kl` is 0); `advantages` [B], one per completion;
    `mask` [B, T] marks completion tokens (bool or 0/1). Values under a zero mask are ignored, even NaN/inf.

    Per token: -min(ratio * A, clip(ratio, 1 - clip_eps, 1 + clip_eps) * A) + beta_kl * kl, with
    ratio = exp(logp - old) and the k3 estimator kl = exp(ref - logp) - (ref - logp) - 1. Reduced by `norm`:
    "sequence" token mean per completion, then batch mean (an empty completion counts as 0);
    "token" sum over the batch / number of tokens; "constant" sum / (B * max_len) as in Dr. GRPO.

    `engine_logprobs` [B, T]: the log-probs an inference engine (vLLM) reported when it sampled the tokens.
    Given, each token's policy-gradient term is multiplied by the detached truncated importance weight
    min(exp(old - engine), `is_cap`), which corrects the small sampler/trainer mismatch (as TRL does; the
    KL term is not weighted). None: the trainer's own model sampled, weight 1.

    Stats (token means over the batch): "kl" (0 without a reference), "clip_fraction" (tokens whose
    gradient the clip removes), "ratio_mean", "is_weight_mean" (1 without engine log-probs), and
    "pg_loss" (the loss without the KL term).
    """
    _check_inputs(logprobs, old_logprobs, ref_logprobs, engine_logprobs, advantages, mask, norm, max_len)
    _check_settings(clip_eps, beta_kl, ref_logprobs is not None, norm, is_cap)
    dtype = torch.promote_types(logprobs.dtype, torch.float32)
    keep = mask.bool()
    weight = keep.to(dtype)
    logp = torch.where(keep, logprobs.to(dtype), 0.0)
    old = logp.detach() if old_logprobs is None else torch.where(keep, old_logprobs.detach().to(dtype), 0.0)
    adv = advantages.detach().to(dtype).unsqueeze(1)

    ratio = torch.exp(logp - old)
    clipped_ratio = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    pg_per_token = -torch.min(ratio * adv, clipped_ratio * adv)
    if engine_logprobs is None:
        is_weight = torch.ones_like(logp)
    else:
        engine = torch.where(keep, engine_logprobs.detach().to(dtype), 0.0)
        is_weight = torch.exp(old - engine).clamp(max=is_cap)
        pg_per_token = pg_per_token * is_weight
    if ref_logprobs is None:
        kl_per_token = torch.zeros_like(logp)
    else:
        delta = torch.where(keep, ref_logprobs.detach().to(dtype), 0.0) - logp
        kl_per_token = torch.exp(delta) - delta - 1
    loss = _reduce(pg_per_token + beta_kl * kl_per_token, weight, norm, max_len)

    with torch.no_grad():
        tokens = weight.sum().clamp(min=1.0)
        clipped = ((ratio < 1 - clip_eps) & (adv < 0)) | ((ratio > 1 + clip_eps) & (adv > 0))
        stats = {
            "pg_loss": float(_reduce(pg_per_token, weight, norm, max_len)),
            "kl": float((kl_per_token * weight).sum() / tokens),
            "clip_fraction": float((clipped.to(dtype) * weight).sum() / tokens),
            "ratio_mean": float((ratio * weight).sum() / tokens),
            "is_weight_mean": float((is_weight * weight).sum() / tokens),
        }
    return loss, stats


def _reduce(per_token: torch.Tensor, weight: torch.Tensor, norm: str, max_len: int | None) -> torch.Tensor:
    """Collapse per-token losses [B, T] to a scalar with the chosen normalisation."""
    total = per_token * weight
    if norm == "sequence":
        return (total.sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)).mean()
    if norm == "token":
        return total.sum() / weight.sum().clamp(min=1.0)
    return total.sum() / (per_token.shape[0] * max_len)


def _check_inputs(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor | None,
    ref_logprobs: torch.Tensor | None,
    engine_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    norm: str,
    max_len: int | None,
) -> None:
    """Raise ValueError on tensor shapes the loss cannot honour."""
    if logprobs.dim() != 2 or logprobs.shape[0] == 0:
        raise ValueError(f"logprobs must be [B, T] with B >= 1, got shape {tuple(logprobs.shape)}")
    shape = tuple(logprobs.shape)
    tensors = (
        ("old_logprobs", old_logprobs),
        ("ref_logprobs", ref_logprobs),
        ("engine_logprobs", engine_logprobs),
        ("mask", mask),
    )
    for name, tensor in tensors:
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have the shape of logprobs {shape}, got {tuple(tensor.shape)}")
    if tuple(advantages.shape) != shape[:1]:
        raise ValueError(f"advantages must be [B] = {shape[:1]}, got {tuple(advantages.shape)}")
    if norm == "constant":
        if max_len is None or max_len < 1:
            raise ValueError(f"norm 'constant' needs max_len >= 1 (the generation limit), got {max_len!r}")
        longest = int(mask.bool().sum(dim=1).max())
        if longest > max_len:
            raise ValueError(f"a completion has {longest} tokens, more than max_len = {max_len}")


def _check_settings(clip_eps: float, beta_kl: float, has_reference: bool, norm: str, is_cap: float) -> None:
    """Raise ValueError on settings the loss cannot honour."""
    if not 0 < clip_eps < 1:
        raise ValueError(f"clip_eps must be in (0, 1), got {clip_eps!r}")
    if beta_kl < 0:
        raise ValueError(f"beta_kl must be >= 0, got {beta_kl!r}")
    if beta_kl > 0 and not has_reference:
        raise ValueError(f"beta_kl = {beta_kl} needs ref_logprobs (beta_kl=0 trains without a reference)")
    if norm not in LOSS_NORMS:
        raise ValueError(f"norm must be one of {LOSS_NORMS}, got {norm!r}")
    if not is_cap >= 1:
        raise ValueError(f"is_cap must be >= 1, got {is_cap!r}")
