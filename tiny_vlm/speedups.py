"""Faster CPU passes through a Qwen2.5-VL vision tower, same maths: one attention call per picture size and
the patch embedding as the matmul it is.

Transformers runs the tower's attention once per picture when flash-attention is absent (a Python loop of
tiny calls, a batch of 80 pictures making 80 calls per layer), and the patch embedding as a Conv3d whose
kernel is the whole patch (its backward is a slow convolution). `speed_up_vision(model)` rebinds both on one
model instance: pictures of equal token count are attended together in one batched call, and the patch
embedding multiplies by the flattened kernel. Weights, their names and saved files are untouched; outputs
agree with the stock code to float rounding. Models whose tower is not Qwen2.5-VL's, or that run
flash-attention, are left as they are.
"""

from __future__ import annotations

import types
from typing import Any

import torch


def speed_up_vision(model: Any) -> bool:
    """Rebind the vision tower's attention and patch embedding of a Qwen2.5-VL `model`; False if not one."""
    visual = getattr(getattr(model, "model", None), "visual", None)
    if visual is None or type(visual).__name__ != "Qwen2_5_VisionTransformerPretrainedModel":
        return False
    if "flash" in str(visual.config._attn_implementation):
        return False
    patch_embed = visual.patch_embed
    patch_embed.forward = types.MethodType(_embed_patches_by_matmul, patch_embed)
    for block in visual.blocks:
        block.attn.forward = types.MethodType(_attend_by_size, block.attn)
    return True


def _embed_patches_by_matmul(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """Qwen2_5_VisionPatchEmbed.forward as a matmul: the Conv3d's kernel and stride are the whole patch."""
    weight = self.proj.weight
    flat = hidden_states.reshape(-1, weight[0].numel()).to(weight.dtype)
    return flat @ weight.reshape(self.embed_dim, -1).t()


def _attend_by_size(
    self: Any,
    hidden_states: torch.Tensor,
    cu_seqlens: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    **_: Any,
) -> torch.Tensor:
    """Qwen2_5_VLVisionAttention.forward with every run of equal-length chunks attended in one call."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    seq_length = hidden_states.shape[0]
    qkv = self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1).permute(1, 0, 2, 3)
    query, key, value = qkv.unbind(0)
    cos, sin = position_embeddings
    query, key = apply_rotary_pos_emb_vision(query, key, cos, sin)
    starts = cu_seqlens[:-1].tolist()
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).tolist()
    by_length: dict[int, list[int]] = {}
    for start, length in zip(starts, lengths, strict=True):
        by_length.setdefault(length, []).append(start)
    pieces, order = [], []
    for length, group in by_length.items():
        index = (torch.tensor(group)[:, None] + torch.arange(length)).reshape(-1)
        q, k, v = (
            t[index].reshape(len(group), length, self.num_heads, -1).transpose(1, 2)
            for t in (query, key, value)
        )
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=self.scaling)
        pieces.append(out.transpose(1, 2).reshape(len(group) * length, -1))
        order.append(index)
    attended = torch.cat(pieces)
    if len(pieces) > 1 or not torch.equal(order[0], torch.arange(seq_length)):
        attended = attended[torch.argsort(torch.cat(order))]
    return self.proj(attended.contiguous())
