"""Stage controller: scripted stats switch at the exact expected iteration; dwell, patience, N/A rule,
bias correction, the fixed schedules, sync, state."""

import pytest
import torch

from algorithms.stage import StageController
from algorithms.train_config import SPOConfig
from vz_env.turn import Phase

D, C = Phase.DECISION, Phase.CLUE


def run(controller, script):
    """Feed (accuracy, na_rate) per iteration; return the stage each iteration t = 1.. trained in."""
    trained = []
    for accuracy, na_rate in script:
        trained.append(controller.stage)
        controller.update(accuracy, na_rate)
    return trained


def test_starts_in_decision_with_zero_emas():
    controller = StageController()
    assert controller.stage == D
    assert (controller.iterations_in_stage, controller.acc_ema, controller.na_ema) == (0, 0.0, 0.0)


def test_threshold_rule_switches_after_iteration_45_when_always_right():
    # acc_ema after t perfect iterations = 1 - 0.95^t: 0.8953 at t = 44, 0.9006 at t = 45.
    controller = StageController(SPOConfig(stage_patience=100))
    trained = run(controller, [(1.0, 0.0)] * 50)
    assert trained[:45] == [D] * 45
    assert trained[45:] == [C] * 5
    assert controller.iterations_in_stage == 5
    # From acc_ema = 1 - 0.95^50 = 0.9231, each all-wrong iteration multiplies it by 0.95; it first reaches
    # <= 0.6 (error >= 0.4) after 9 of them (0.9231 * 0.95^8 = 0.6124, 0.9231 * 0.95^9 = 0.5818).
    trained = run(controller, [(0.0, 0.0)] * 12)
    assert trained == [C] * 9 + [D] * 3


def test_patience_switches_after_p_iterations_whatever_the_stats():
    controller = StageController()  # P = 20: the accuracy EMA is still 0.64 after 20 perfect iterations
    trained = run(controller, [(1.0, 0.0)] * 45)
    # Perfect votes never meet the clue -> decision rule either: patience ends the clue stage too.
    assert trained == [D] * 20 + [C] * 20 + [D] * 5
    controller = StageController(SPOConfig(min_stage_iters=2, stage_patience=3))
    # Never right, always N/A: patience (3) ends the decision stage; the clue stage's exit rule holds at
    # once (error 1 >= 0.4) and waits only for the dwell (2).
    assert run(controller, [(0.0, 1.0)] * 7) == [D] * 3 + [C] * 2 + [D] * 2


def test_bias_correction_divides_each_ema_by_one_minus_rho_to_the_t():
    controller = StageController(SPOConfig(stage_ema_bias_correction=True))
    controller.update(1.0, 0.2)  # raw EMAs 0.05 and 0.01, divided by 1 - 0.95 = 0.05
    assert (controller.acc_ema, controller.na_ema) == pytest.approx((1.0, 0.2))
    controller.update(0.5, 0.0)  # raw acc 0.95 * 0.05 + 0.05 * 0.5 = 0.0725, / (1 - 0.9025) = 0.74359
    assert controller.acc_ema == pytest.approx(0.0725 / 0.0975)
    assert controller.na_ema == pytest.approx(0.0095 / 0.0975)
    # Always right: the corrected EMA is 1 at once, so the dwell (5) is all that holds the switch back.
    controller = StageController(SPOConfig(stage_ema_bias_correction=True))
    assert run(controller, [(1.0, 0.0)] * 7) == [D] * 5 + [C] * 2


@pytest.mark.parametrize(("schedule", "stage"), [("decision-only", D), ("clue-only", C)])
def test_fixed_schedules_never_switch_and_keep_the_emas(schedule, stage):
    config = SPOConfig(stage_schedule=schedule, start_stage="clue", min_stage_iters=1, stage_patience=1)
    controller = StageController(config)
    assert run(controller, [(1.0, 0.0), (0.0, 1.0)] * 3) == [stage] * 6
    assert controller.acc_ema > 0 and controller.na_ema > 0


def test_min_dwell_blocks_an_early_switch():
    controller = StageController(SPOConfig(stage_ema_rho=0.0, min_stage_iters=3))  # EMA = latest stats
    # The decision -> clue rule holds from iteration 1 on, but only iteration 3 completes the dwell.
    assert run(controller, [(1.0, 0.0)] * 3) == [D] * 3
    assert controller.stage == C and controller.iterations_in_stage == 0
    # The clue -> decision rule (error 0.5 >= 0.4) holds at once, again held back for 3 iterations.
    assert run(controller, [(0.5, 0.0)] * 4) == [C] * 3 + [D]


def test_thresholds_are_inclusive():
    controller = StageController(SPOConfig(stage_ema_rho=0.0, min_stage_iters=1))
    assert controller.update(0.9, 0.1) == C
    assert controller.update(0.6, 0.0) == D  # error 1 - 0.6 = 0.4
    assert controller.update(0.95, 0.05) == C
    assert controller.update(1.0, 0.5) == D  # N/A rate 0.5


def test_high_na_rate_blocks_the_clue_stage_and_ends_it():
    controller = StageController(SPOConfig(stage_ema_rho=0.0, min_stage_iters=1))
    assert run(controller, [(1.0, 0.2)] * 10) == [D] * 10
    controller.update(0.9, 0.0)
    assert controller.stage == C
    assert controller.update(0.95, 0.49) == C
    assert controller.update(0.95, 0.5) == D


def test_emas_follow_rho():
    controller = StageController(SPOConfig(stage_ema_rho=0.5))
    controller.update(0.8, 0.2)  # acc 0.5 * 0 + 0.5 * 0.8 = 0.4; na 0.5 * 0 + 0.5 * 0.2 = 0.1
    controller.update(0.6, 0.0)  # acc 0.5 * 0.4 + 0.5 * 0.6 = 0.5; na 0.5 * 0.1 + 0 = 0.05
    assert (controller.acc_ema, controller.na_ema) == pytest.approx((0.5, 0.05))


def test_alternate_schedule_ignores_stats():
    controller = StageController(SPOConfig(stage_schedule="alternate", alternate_every=2, start_stage="clue"))
    trained = run(controller, [(1.0, 0.0), (0.0, 1.0)] * 4)
    assert trained == [C, C, D, D, C, C, D, D]


def test_all_reduce_averages_the_stats_before_the_ema():
    seen = []

    def mean_with_other_worker(local: torch.Tensor) -> torch.Tensor:
        seen.append(local.dtype)
        return (local + torch.tensor([0.0, 1.0], dtype=torch.float64)) / 2

    controller = StageController(SPOConfig(stage_ema_rho=0.5), all_reduce=mean_with_other_worker)
    controller.update(1.0, 0.0)
    assert (controller.acc_ema, controller.na_ema) == pytest.approx((0.25, 0.25))
    assert seen == [torch.float64]


@pytest.mark.parametrize("bias_correction", [False, True])
def test_state_dict_round_trip_resumes_exactly(bias_correction):
    config = SPOConfig(stage_ema_rho=0.8, min_stage_iters=2, stage_ema_bias_correction=bias_correction)
    script = [(1.0, 0.0)] * 12 + [(0.2, 0.3)] * 6
    reference = run(StageController(config), script)
    first = StageController(config)
    head = run(first, script[:9])
    second = StageController(config)
    second.load_state_dict(first.state_dict())
    assert head + run(second, script[9:]) == reference
    assert C in reference and reference[-1] == D


@pytest.mark.parametrize(("accuracy", "na_rate"), [(1.5, 0.0), (0.5, -0.1), (float("nan"), 0.0)])
def test_stats_outside_zero_one_are_rejected(accuracy, na_rate):
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        StageController().update(accuracy, na_rate)


def test_checkpoints_and_configs_name_the_stage():
    controller = StageController(SPOConfig(stage_schedule="alternate", alternate_every=1, start_stage="clue"))
    assert controller.stage is C and SPOConfig(start_stage="clue").to_dict()["start_stage"] == "clue"
    controller.update(1.0, 0.0)
    assert controller.state_dict()["stage"] == "decision"
    restored = StageController()
    restored.load_state_dict({**controller.state_dict(), "stage": "clue"})
    assert restored.stage is C


def test_bad_state_is_rejected():
    controller = StageController()
    with pytest.raises(ValueError, match="stage must be"):
        controller.load_state_dict({**controller.state_dict(), "stage": "vote"})
    with pytest.raises(ValueError, match="acc_ema"):
        controller.load_state_dict({"stage": "clue", "iterations_in_stage": 0, "na_ema": 0.0})
