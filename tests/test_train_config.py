"""SPOConfig keeps the paper's defaults, rejects bad values and unknown keys, round-trips through dicts."""

import dataclasses
import json

import pytest

from algorithms.train_config import SPOConfig
from vz_env.turn import Phase


def test_defaults_are_the_papers():
    cfg = SPOConfig()
    assert cfg.role_ema_alpha == 0.95
    assert cfg.baseline_timing == "before"
    assert cfg.group_size == 8
    assert cfg.adv_eps == 1e-8
    assert cfg.clip_eps == 0.2
    assert cfg.beta_kl == 0.04
    assert cfg.loss_norm == "sequence"
    assert cfg.stage_ema_rho == 0.95
    assert (cfg.switch_to_clue_acc, cfg.switch_to_clue_na) == (0.9, 0.1)
    assert (cfg.switch_to_decision_err, cfg.switch_to_decision_na) == (0.4, 0.5)
    assert cfg.min_stage_iters == 5
    assert cfg.stage_patience == 20
    assert cfg.stage_ema_bias_correction is False
    assert cfg.stage_schedule == "adaptive"
    assert cfg.alternate_every == 5
    assert cfg.start_stage is Phase.DECISION
    assert cfg.temperature == 0.8
    assert cfg.learning_rate == 1e-5
    assert cfg.lr_schedule == "cosine"
    assert cfg.warmup_ratio == 0.1
    assert cfg.iterations == 100
    assert cfg.is_cap == 2.0


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SPOConfig().clip_eps = 0.3


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("baseline_timing", "during", "one of ('before', 'after')"),
        ("loss_norm", "batch", "one of ('sequence', 'token', 'constant')"),
        ("stage_schedule", "random", "one of ('adaptive', 'alternate', 'decision-only', 'clue-only')"),
        ("stage_patience", 0, ">= 1"),
        ("stage_patience", 4, ">= min_stage_iters (5)"),
        ("is_cap", 0.5, ">= 1"),
        ("start_stage", "vote", "one of ('decision', 'clue')"),
        ("start_stage", Phase.DONE, "one of ('decision', 'clue')"),
        ("lr_schedule", "step", "one of"),
        ("role_ema_alpha", 1.5, "in [0, 1]"),
        ("stage_ema_rho", -0.1, "in [0, 1]"),
        ("switch_to_clue_acc", 2, "in [0, 1]"),
        ("group_size", 1, ">= 2"),
        ("adv_eps", 0.0, "> 0"),
        ("clip_eps", 0.0, "in (0, 1)"),
        ("beta_kl", -0.01, ">= 0"),
        ("min_stage_iters", 0, ">= 1"),
        ("alternate_every", 0, ">= 1"),
        ("temperature", 0, "> 0"),
        ("learning_rate", -1e-5, "> 0"),
        ("warmup_ratio", 1.0, "in [0, 1)"),
        ("iterations", 0, ">= 1"),
    ],
)
def test_bad_value_names_field_and_rule(field, value, allowed):
    with pytest.raises(ValueError, match=field) as err:
        SPOConfig(**{field: value})
    assert allowed in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("group_size", 8.0),
        ("group_size", True),
        ("clip_eps", "0.2"),
        ("beta_kl", float("nan")),
        ("loss_norm", 1),
        ("stage_ema_bias_correction", 1),
    ],
)
def test_wrong_type_is_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        SPOConfig(**{field: value})


def test_int_given_for_float_field_becomes_float():
    cfg = SPOConfig(beta_kl=0)
    assert cfg.beta_kl == 0.0 and isinstance(cfg.beta_kl, float)


def test_from_dict_rejects_unknown_keys_listing_valid_ones():
    with pytest.raises(ValueError, match="clip_epsilon") as err:
        SPOConfig.from_dict({"clip_epsilon": 0.1})
    assert "clip_eps" in str(err.value) and "valid names" in str(err.value)


def test_round_trip_through_json():
    cfg = SPOConfig(loss_norm="token", group_size=4, stage_schedule="alternate", learning_rate=2e-6)
    assert SPOConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_replace_revalidates():
    with pytest.raises(ValueError, match="group_size"):
        dataclasses.replace(SPOConfig(), group_size=0)
