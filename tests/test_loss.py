"""Policy loss: a hand-computed B=2, T=3 case for each normalisation, gradients, clipping, KL, NaN guards."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from algorithms.loss import LOSS_STATS, policy_loss

LN2 = math.log(2)
NAN = float("nan")
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
ADV = torch.tensor([1.0, -2.0])
# Ratios exp(logp - old) per token; the masked token holds garbage that must be ignored.
RATIOS = torch.tensor([[1.5, 0.9, NAN], [0.5, 1.0, 1.3]])
# ref - logp per token: k3(ln 2) = 2 - ln 2 - 1 = 1 - ln 2; k3(-ln 2) = 0.5 + ln 2 - 1 = ln 2 - 0.5.
REF_MINUS_LOGP = torch.tensor([[LN2, 0.0, NAN], [0.0, -LN2, 0.0]])
BETA = 0.1
# Per-token objective with clip_eps 0.2, -min(r * A, clip(r, 0.8, 1.2) * A) + 0.1 * k3:
#   row 0 (A = +1): r 1.5 -> clipped to 1.2 -> -1.2 + 0.1 (1 - ln 2);  r 0.9 -> -0.9
#   row 1 (A = -2): r 0.5 -> -min(-1, -1.6) = 1.6;  r 1.0 -> 2 + 0.1 (ln 2 - 0.5);
#                   r 1.3 -> -min(-2.6, -2.4) = 2.6
ROW0 = [-1.2 + BETA * (1 - LN2), -0.9]
ROW1 = [1.6, 2.0 + BETA * (LN2 - 0.5), 2.6]
EXPECTED = {
    "sequence": (sum(ROW0) / 2 + sum(ROW1) / 3) / 2,
    "token": (sum(ROW0) + sum(ROW1)) / 5,  # = 4.15 / 5: the ln 2 terms cancel
    "constant": (sum(ROW0) + sum(ROW1)) / (2 * 4),  # max_len 4
}


def hand_case():
    """Tensors of the hand-computed example; logp requires grad, old and ref are derived from it."""
    logp = torch.tensor([[-1.0, -0.5, -7.0], [-2.0, -0.3, -1.1]], requires_grad=True)
    old = logp.detach() - torch.log(RATIOS)
    ref = logp.detach() + REF_MINUS_LOGP
    return logp, old, ref


@pytest.mark.parametrize("norm", ["sequence", "token", "constant"])
def test_hand_computed_value_for_each_norm(norm):
    logp, old, ref = hand_case()
    loss, stats = policy_loss(logp, old, ref, ADV, MASK, clip_eps=0.2, beta_kl=BETA, norm=norm, max_len=4)
    assert loss.item() == pytest.approx(EXPECTED[norm], rel=1e-6)
    assert EXPECTED["token"] == pytest.approx(0.83)
    assert stats["kl"] == pytest.approx((1 - LN2 + LN2 - 0.5) / 5, rel=1e-6)  # 0.1
    assert stats["clip_fraction"] == pytest.approx(2 / 5)  # row 0 token 0 and row 1 token 0
    assert stats["ratio_mean"] == pytest.approx((1.5 + 0.9 + 0.5 + 1.0 + 1.3) / 5, rel=1e-6)


def test_hand_computed_gradient_and_its_sign():
    logp, old, ref = hand_case()
    loss, _ = policy_loss(logp, old, ref, ADV, MASK, clip_eps=0.2, beta_kl=BETA, norm="sequence")
    loss.backward()
    # d/dlogp: unclipped tokens give -A * r, clipped ones 0; k3 gives beta * (1 - exp(ref - logp));
    # then / tokens in the row / B.
    expected = torch.tensor(
        [
            [BETA * (1 - 2) / 2 / 2, -1 * 0.9 / 2 / 2, 0.0],
            [0.0, (2 * 1.0 + BETA * (1 - 0.5)) / 3 / 2, 2 * 1.3 / 3 / 2],
        ]
    )
    torch.testing.assert_close(logp.grad, expected)
    # Gradient descent raises the positive-advantage token's log-prob and lowers the negative ones'.
    assert logp.grad[0, 1] < 0 and logp.grad[1, 1] > 0 and logp.grad[1, 2] > 0


@pytest.mark.parametrize("norm", ["sequence", "token", "constant"])
def test_on_policy_loss_is_minus_mean_advantage_plus_kl(norm):
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.1], [0.2, 0.9, 0.4]])).requires_grad_()
    mask = torch.ones(2, 3)
    adv = torch.tensor([0.7, -1.3])
    ref = logp.detach() + torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.4, -0.1]])
    k3 = (torch.exp(ref - logp) - (ref - logp) - 1).detach()
    loss, stats = policy_loss(logp, None, ref, adv, mask, clip_eps=0.2, beta_kl=0.04, norm=norm, max_len=3)
    assert loss.item() == pytest.approx(-adv.mean().item() + 0.04 * k3.mean().item(), rel=1e-6)
    assert stats["ratio_mean"] == pytest.approx(1.0) and stats["clip_fraction"] == 0.0
    assert stats["pg_loss"] == pytest.approx(-adv.mean().item(), rel=1e-6)


def test_on_policy_gradient_is_minus_advantage_over_length_and_batch():
    logp = torch.full((2, 3), -1.0, requires_grad=True)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    loss, _ = policy_loss(logp, None, None, torch.tensor([1.0, 1.0]), mask, 0.2, 0.0)
    loss.backward()
    torch.testing.assert_close(logp.grad, torch.tensor([[-1 / 6, -1 / 6, -1 / 6], [-1 / 2, 0.0, 0.0]]))


@pytest.mark.parametrize(
    ("ratio", "adv", "objective", "has_grad"),
    [
        (1.5, 1.0, -1.2, False),  # above 1 + eps with A > 0: clipped, no push further up
        (1.5, -1.0, 1.5, True),  # above 1 + eps with A < 0: unclipped, keep pushing down
        (0.5, -1.0, 0.8, False),  # below 1 - eps with A < 0: clipped
        (0.5, 1.0, -0.5, True),  # below 1 - eps with A > 0: unclipped, keep pushing up
        (1.1, 1.0, -1.1, True),  # inside the trust region
    ],
)
def test_clipping_follows_ppo(ratio, adv, objective, has_grad):
    logp = torch.zeros(1, 1, requires_grad=True)
    old = -torch.log(torch.tensor([[ratio]]))
    loss, stats = policy_loss(logp, old, None, torch.tensor([adv]), torch.ones(1, 1), 0.2, 0.0)
    loss.backward()
    assert loss.item() == pytest.approx(objective, rel=1e-6)
    assert (logp.grad.abs().item() > 0) == has_grad
    assert stats["clip_fraction"] == (0.0 if has_grad else 1.0)


def test_engine_samples_get_the_truncated_importance_weight():
    # One completion of 4 tokens, A = +1, on-policy (ratio 1), the last token masked with garbage.
    # old - engine per token: ln 0.5, 0, ln 4, (masked) -> weights 0.5, 1, min(4, C = 2) = 2.
    logp = torch.tensor([[-1.0, -2.0, -0.5, NAN]], requires_grad=True)
    engine = logp.detach() - torch.tensor([[math.log(0.5), 0.0, math.log(4.0), NAN]])
    mask = torch.tensor([[1, 1, 1, 0]])
    ref = logp.detach() + torch.tensor([[LN2, 0.0, 0.0, NAN]])  # k3(ln 2) = 1 - ln 2 on token 0 only
    loss, stats = policy_loss(
        logp, None, ref, torch.tensor([1.0]), mask, 0.2, BETA, engine_logprobs=engine, is_cap=2.0
    )
    loss.backward()
    # pg per token = -A * ratio * weight = -0.5, -1, -2; the KL term is not weighted.
    assert stats["pg_loss"] == pytest.approx(-3.5 / 3)
    assert loss.item() == pytest.approx((-3.5 + BETA * (1 - LN2)) / 3, rel=1e-6)
    assert stats["is_weight_mean"] == pytest.approx(3.5 / 3)
    # d/dlogp of -ratio * w is -w (ratio 1, weight detached); k3 adds beta * (1 - exp(ref - logp)) = -beta.
    expected = torch.tensor([[-0.5 - BETA, -1.0, -2.0, 0.0]]) / 3
    assert torch.allclose(logp.grad, expected, atol=1e-6)
    # A lower cap truncates more; without engine log-probs every weight is 1.
    _, capped = policy_loss(
        logp, None, None, torch.tensor([1.0]), mask, 0.2, 0.0, engine_logprobs=engine, is_cap=1.0
    )
    assert capped["pg_loss"] == pytest.approx(-2.5 / 3)
    _, plain = policy_loss(logp, None, None, torch.tensor([1.0]), mask, 0.2, 0.0)
    assert (plain["pg_loss"], plain["is_weight_mean"]) == pytest.approx((-1.0, 1.0))


def test_importance_weight_multiplies_the_clipped_term():
    # ratio 1.5 (old = logp - ln 1.5), A = +1: clipped to 1.2; weight exp(old - engine) = 0.8 -> -0.96.
    logp = torch.zeros(1, 1, requires_grad=True)
    old = -torch.log(torch.tensor([[1.5]]))
    engine = old - math.log(0.8)
    _, stats = policy_loss(
        logp, old, None, torch.tensor([1.0]), torch.ones(1, 1), 0.2, 0.0, engine_logprobs=engine
    )
    assert stats["pg_loss"] == pytest.approx(-1.2 * 0.8, rel=1e-6)


def test_kl_is_zero_when_reference_equals_policy():
    logp = torch.randn(3, 4, requires_grad=True)
    loss, stats = policy_loss(logp, None, logp.detach(), torch.randn(3), torch.ones(3, 4), 0.2, 0.04)
    assert stats["kl"] == 0.0
    assert loss.item() == pytest.approx(stats["pg_loss"])


def test_empty_rows_and_garbage_under_the_mask_give_finite_loss_and_grad():
    logp = torch.tensor([[-1.0, NAN], [-float("inf"), NAN]], requires_grad=True)
    mask = torch.tensor([[1, 0], [0, 0]])
    ref = torch.tensor([[-1.2, NAN], [NAN, -float("inf")]])
    old = torch.tensor([[-1.0, float("inf")], [NAN, NAN]])
    for norm in ("sequence", "token", "constant"):
        logp.grad = None
        loss, stats = policy_loss(logp, old, ref, torch.tensor([2.0, 5.0]), mask, 0.2, 0.04, norm, max_len=2)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logp.grad).all()
        assert all(math.isfinite(v) for v in stats.values())
        assert logp.grad[1].abs().sum() == 0 and logp.grad[0, 1] == 0
    # Sequence norm: the empty row contributes 0 but still counts in the batch mean.
    loss, _ = policy_loss(logp, old, None, torch.tensor([2.0, 5.0]), mask, 0.2, 0.0)
    assert loss.item() == pytest.approx(-2.0 / 2)


def test_all_masked_batch_gives_zero_loss():
    logp = torch.randn(2, 3, requires_grad=True)
    loss, stats = policy_loss(logp, None, None, torch.ones(2), torch.zeros(2, 3), 0.2, 0.0)
    loss.backward()
    assert loss.item() == 0.0
    assert stats == dict.fromkeys(LOSS_STATS, 0.0)
    assert torch.all(logp.grad == 0)


def test_low_precision_inputs_are_computed_in_float32():
    logp = torch.tensor([[-1.0, -2.0]], dtype=torch.bfloat16, requires_grad=True)
    loss, _ = policy_loss(logp, None, None, torch.tensor([1.0]), torch.ones(1, 2), 0.2, 0.0)
    assert loss.dtype == torch.float32
    loss.backward()
    assert logp.grad.dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"advantages": torch.ones(3)}, "advantages"),
        ({"mask": torch.ones(2, 4)}, "mask"),
        ({"old_logprobs": torch.zeros(3, 3)}, "old_logprobs"),
        ({"ref_logprobs": None}, "ref_logprobs"),
        ({"norm": "batch"}, "norm"),
        ({"norm": "constant"}, "max_len"),
        ({"norm": "constant", "max_len": 2}, "more than max_len"),
        ({"clip_eps": 0.0}, "clip_eps"),
        ({"beta_kl": -1.0}, "beta_kl"),
        ({"logprobs": torch.zeros(3)}, "logprobs"),
        ({"engine_logprobs": torch.zeros(2, 2)}, "engine_logprobs"),
        ({"is_cap": 0.5}, "is_cap"),
    ],
)
def test_bad_inputs_are_rejected(kwargs, message):
    args = {
        "logprobs": torch.zeros(2, 3),
        "old_logprobs": None,
        "ref_logprobs": torch.zeros(2, 3),
        "advantages": torch.ones(2),
        "mask": torch.ones(2, 3),
        "clip_eps": 0.2,
        "beta_kl": 0.04,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        policy_loss(**args)


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 4),
    length=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    norm=st.sampled_from(["sequence", "token", "constant"]),
    scale=st.floats(0.01, 20),
)
def test_loss_and_grad_are_finite_for_random_inputs(batch, length, seed, norm, scale):
    gen = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(batch, length, generator=gen) * scale).requires_grad_()
    old = -torch.rand(batch, length, generator=gen) * scale
    ref = -torch.rand(batch, length, generator=gen) * scale
    adv = torch.randn(batch, generator=gen) * scale
    engine = -torch.rand(batch, length, generator=gen) * scale
    mask = torch.rand(batch, length, generator=gen) < 0.7
    loss, stats = policy_loss(
        logp, old, ref, adv, mask, 0.2, 0.04, norm, max_len=length, engine_logprobs=engine
    )
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logp.grad).all()
    assert all(math.isfinite(v) for v in stats.values())
    assert 0.0 <= stats["clip_fraction"] <= 1.0 and stats["kl"] >= 0.0 and stats["is_weight_mean"] <= 2.0
