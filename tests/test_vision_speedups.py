"""The vision tower's CPU speedups compute what the stock Qwen2.5-VL code computes, gradients included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

SIZES = st.lists(
    st.sampled_from([(56, 56), (112, 84), (84, 112), (168, 126), (320, 240)]), min_size=1, max_size=5
)


def _tower_outputs(policy, observations):
    """The tower's output, the input pixels' gradient and each weight's gradient of a squared-sum loss."""
    from agents.hf_vlm import stack_inputs

    batch = stack_inputs(policy.encode_batch(observations), policy.pad_token_id, "right")
    pixels = batch["pixel_values"].clone().requires_grad_(True)
    out = policy.model.model.visual(pixels, grid_thw=batch["image_grid_thw"]).pooler_output
    out.square().sum().backward()
    grads = {name: p.grad.clone() for name, p in policy.model.model.visual.named_parameters()}
    policy.model.zero_grad(set_to_none=True)
    return out.detach(), pixels.grad, grads


@settings(max_examples=8, deadline=None)
@given(sizes=SIZES, seed=st.integers(0, 2**16))
def test_batched_attention_and_matmul_patches_match_the_stock_tower(tiny_dirs, sizes, seed) -> None:
    import torch

    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.speedups import speed_up_vision

    rng = np.random.default_rng(seed)
    observations = [
        {"prompt": "x", "image": Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))}
        for w, h in sizes
    ]
    stock = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu")
    fast = HFVLMPolicy(tiny_dirs["qwen2_5_vl"], device="cpu")
    assert speed_up_vision(fast.model)
    out_a, pix_a, grads_a = _tower_outputs(stock, observations)
    out_b, pix_b, grads_b = _tower_outputs(fast, observations)
    torch.testing.assert_close(out_b, out_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pix_b, pix_a, atol=1e-5, rtol=1e-4)
    for name, grad in grads_a.items():
        torch.testing.assert_close(grads_b[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_models_without_a_qwen2_5_vl_tower_are_left_alone(tiny_dirs) -> None:
    from agents.hf_vlm import HFVLMPolicy
    from tiny_vlm.speedups import speed_up_vision

    llava = HFVLMPolicy(tiny_dirs["llava"], device="cpu")
    before = {name: type(m).forward for name, m in llava.model.named_modules()}
    assert not speed_up_vision(llava.model)
    assert all("forward" not in vars(m) for m in llava.model.modules())
    assert before == {name: type(m).forward for name, m in llava.model.named_modules()}
