"""Every Iterative-SPO trainer constant of docs/spec.md s6 in one frozen config object, validated up front."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.sampling import Sampling
from vz_env.settings import (
    at_least,
    fraction,
    from_mapping,
    member_of,
    one_of,
    positive,
    setting,
    to_plain_dict,
    validate,
)
from vz_env.turn import Phase

BASELINE_TIMINGS = ("before", "after")
LOSS_NORMS = ("sequence", "token", "constant")
STAGE_SCHEDULES = ("adaptive", "alternate", "decision-only", "clue-only")
STAGES = (Phase.DECISION, Phase.CLUE)
LR_SCHEDULES = ("cosine", "linear", "constant")
FINETUNE_MODES = ("lora", "full")
REFERENCES = ("disable-adapter", "copy")
ROLLOUT_BACKENDS = ("hf", "vllm")
MIXED_PRECISIONS = ("no", "bf16")
# The decoder: `language_model` in most VLMs, `text_model` in SmolVLM (Idefics3); no vision tower uses either.
DEFAULT_LORA_TARGETS = (
    r".*(language_model|text_model).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
)


@dataclass(frozen=True)
class SPOConfig:
    """Iterative-SPO settings (docs/spec.md s6) with the paper's values as defaults.

    To add a setting, declare it with a vz_env.settings helper (`one_of`, `fraction`, `positive`,
    `at_least`, or `setting` for anything else) and its help text; checks, `from_dict`, `to_dict`,
    the CLI help and the docs table pick it up from there.
    """

    # Role Advantage Estimation (clue stage).
    role_ema_alpha: float = fraction(0.95, "EMA factor of the per-role reward baselines (clue stage)")
    baseline_timing: str = one_of(
        "before",
        BASELINE_TIMINGS,
        "update the role baselines 'before' or 'after' computing this iteration's advantages",
    )

    # Group-normalised advantages (decision stage).
    group_size: int = at_least(8, 2, "G: sampled votes per decision prompt, normalised as one group")
    adv_eps: float = positive(1e-8, "added to the group standard deviation before dividing")

    # Policy loss.
    clip_eps: float = setting(0.2, "PPO ratio clipping range epsilon", "in (0, 1)", lambda v: 0 < v < 1)
    beta_kl: float = at_least(0.04, 0, "weight of the k3 KL penalty to the reference policy")
    is_cap: float = at_least(
        2.0,
        1,
        "C: truncation of the importance weight min(exp(logp_old - logp_engine), C) applied to "
        "samples whose log-probs come from an inference engine (vLLM)",
    )
    loss_norm: str = one_of(
        "sequence",
        LOSS_NORMS,
        "how token losses are averaged: per 'sequence', per 'token', or by a 'constant'",
    )

    # Stage switching.
    stage_ema_rho: float = fraction(
        0.95, "EMA factor of the accuracy and N/A rates that drive stage switching"
    )
    switch_to_clue_acc: float = fraction(
        0.9, "switch to the clue stage once decision accuracy EMA reaches this"
    )
    switch_to_clue_na: float = fraction(0.1, "... and the N/A rate EMA is at most this")
    switch_to_decision_err: float = fraction(
        0.4, "switch back to the decision stage once the error rate EMA reaches this"
    )
    switch_to_decision_na: float = fraction(0.5, "... or the N/A rate EMA reaches this")
    min_stage_iters: int = at_least(5, 1, "iterations a stage runs at least before it may switch")
    stage_patience: int = at_least(
        20, 1, "P: under 'adaptive', a stage switches after this many iterations even if no threshold is met"
    )
    stage_ema_bias_correction: bool = setting(
        False, "divide the accuracy and N/A EMAs by 1 - rho^t (as Adam does) before the switch rules"
    )
    stage_schedule: str = one_of(
        "adaptive",
        STAGE_SCHEDULES,
        "which stage trains each iteration: 'adaptive' (the EMA rules), 'alternate' (every alternate_every "
        "iterations), or one stage always ('decision-only', 'clue-only')",
    )
    alternate_every: int = at_least(5, 1, "iterations per stage under stage_schedule 'alternate'")
    start_stage: Phase = member_of(
        Phase.DECISION, STAGES, "the stage of the first iteration ('adaptive' and 'alternate' schedules)"
    )

    # Optimisation.
    temperature: float = positive(0.8, "sampling temperature of rollouts")
    learning_rate: float = positive(1e-5, "optimizer (AdamW) learning rate")
    lr_schedule: str = one_of("cosine", LR_SCHEDULES, "learning-rate schedule after warm-up")
    warmup_ratio: float = setting(
        0.1, "fraction of iterations spent warming the learning rate up", "in [0, 1)", lambda v: 0 <= v < 1
    )
    iterations: int = at_least(100, 1, "training iterations (each: rollouts, then one update)")
    ppo_epochs: int = at_least(1, 1, "passes over each iteration's samples")
    max_grad_norm: float = positive(1.0, "gradient norm clipping")
    weight_decay: float = at_least(0.0, 0, "AdamW weight decay")

    # Rollouts (games are self-play: every seat is the policy being trained).
    games_per_iter: int = at_least(8, 1, "self-play games rolled out per iteration")
    max_new_tokens: int = at_least(128, 1, "generation limit per turn, in tokens")
    min_new_tokens: int = at_least(0, 0, "tokens generated at least per turn")
    top_p: float = setting(1.0, "nucleus sampling threshold of rollouts", "in (0, 1]", lambda v: 0 < v <= 1)
    seed: int = at_least(0, 0, "run seed (games, sampling, initial adapters)")
    rollout_backend: str = one_of(
        "hf",
        ROLLOUT_BACKENDS,
        "who samples rollouts: the trained model through HF 'hf' generate, or a colocated 'vllm' engine "
        "serving its weights (synced after every step; the `vllm` extra)",
    )
    vllm_memory: float = setting(
        0.3,
        "share of the GPU's memory the colocated vLLM engine may take (weights and KV cache)",
        "in (0, 1)",
        lambda v: 0 < v < 1,
    )

    # Model side: LoRA through peft (or full fine-tuning) and where the KL reference comes from.
    finetune: str = one_of("lora", FINETUNE_MODES, "'lora' adapters through peft, or 'full' fine-tuning")
    reference: str = one_of(
        "disable-adapter", REFERENCES, "KL reference: the model with adapters disabled, or a frozen 'copy'"
    )
    lora_rank: int = at_least(16, 1, "LoRA rank r")
    lora_alpha: float = positive(32.0, "LoRA scaling alpha")
    lora_dropout: float = setting(0.0, "dropout on the LoRA path", "in [0, 1)", lambda v: 0 <= v < 1)
    lora_targets: str = setting(
        DEFAULT_LORA_TARGETS,
        "regex of the module names that get LoRA adapters",
        "a non-empty regex",
        lambda v: bool(v),
    )
    score_chunk: int = at_least(16, 1, "sequences per forward pass when scoring log-probs")
    checkpoint_every: int = at_least(10, 1, "save a checkpoint every this many iterations (and at the end)")

    # Memory of large runs (docs/training.md: what each saves).
    mixed_precision: str = one_of(
        "no",
        MIXED_PRECISIONS,
        "FSDP2 only: 'bf16' keeps fp32 weights and optimizer states in the shards and computes with bf16 "
        "copies, gradients reduced in fp32 (MixedPrecisionPolicy); 'no' trains in the dtype the model "
        "loads in",
    )
    activation_checkpointing: bool = setting(
        False,
        "keep only each decoder layer's and vision block's input in the forward pass and recompute the "
        "rest in the backward pass (LoRA and full fine-tuning): less activation memory, one more forward",
    )
    cpu_offload: bool = setting(
        False,
        "FSDP2 only: keep the weight, gradient and optimizer shards in CPU memory and the optimizer step "
        "on the CPU (CPUOffloadPolicy); each layer is copied to the GPU when it runs",
    )

    def __post_init__(self) -> None:
        validate(self)
        if self.finetune == "full" and self.reference != "copy":
            raise ValueError("reference must be 'copy' when finetune is 'full' (no adapters to disable)")
        if self.stage_patience < self.min_stage_iters:
            raise ValueError(
                f"stage_patience must be >= min_stage_iters ({self.min_stage_iters}), "
                f"got {self.stage_patience}"
            )
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"min_new_tokens must be <= max_new_tokens ({self.max_new_tokens})")

    @property
    def sampling(self) -> Sampling:
        """The rollouts' sampling settings, as every policy takes them: evaluation samples as training."""
        return Sampling(self.temperature, self.top_p, self.max_new_tokens, self.min_new_tokens)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SPOConfig:
        """Build a config from a mapping (e.g. parsed JSON); unknown keys are rejected, valid ones listed."""
        return from_mapping(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict of every field; `from_dict(to_dict())` gives an equal config."""
        return to_plain_dict(self)


ALGORITHMS: dict[str, dict[str, Any]] = {
    "iterative-spo": {"stage_schedule": "adaptive"},
    "grpo-decision": {"stage_schedule": "decision-only"},
    "selfplay-clue": {"stage_schedule": "clue-only"},
}
"""The names users pick (`--algo`): presets of the one trainer, as SPOConfig overrides."""


def algorithm_settings(algo: str) -> dict[str, Any]:
    """The SPOConfig overrides that make algorithm `algo` (ValueError naming the choices when unknown)."""
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}")
    return dict(ALGORITHMS[algo])


def algorithm_config(algo: str, settings: Mapping[str, Any] | None = None) -> SPOConfig:
    """The config of algorithm `algo`: its preset, then `settings` on top."""
    return SPOConfig.from_dict({**algorithm_settings(algo), **(settings or {})})
