"""Scaled dot-product attention with an additive bias, that keeps no attention matrix for backward.

``F.scaled_dot_product_attention`` falls back to its unfused "math" kernel when the bias needs a
gradient (the relative position bias in training): that kernel keeps the logits' softmax of every
window (``heads x L x L`` per window, more than the tokens' own ``C`` channels) for the backward
pass. :class:`WindowAttentionFunction` runs the fused kernel forward and keeps only the packed
query/key/value; the backward pass recomputes one layer's softmax and output from them, the way
flash-attention does, and also returns the bias gradient that fused kernels lack.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def _split_heads(qkv: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``N x L x 3 x heads x d`` -> query, key, value views, each ``N x heads x L x d``."""
    query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    return query, key, value


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``N x heads x L x d`` -> ``N x L x (heads * d)``, contiguous."""
    num_windows, heads, length, dims = x.shape
    return x.transpose(1, 2).reshape(num_windows, length, heads * dims)


def fused_window_attention(qkv: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """Attention of each window's tokens to each other, through PyTorch's fused kernel.

    Args:
        qkv: packed projections, ``N x L x 3 x heads x d`` (``N`` windows of ``L`` tokens).
        bias: added to the logits, ``heads x L x L``, or None.

    Returns:
        ``N x L x (heads * d)``.
    """
    query, key, value = _split_heads(qkv)
    # A 4-D mask lets PyTorch pick its fused CPU kernel; a 3-D one sends it to the math kernel.
    mask = None if bias is None else bias.to(query.dtype)[None]
    return _merge_heads(F.scaled_dot_product_attention(query, key, value, attn_mask=mask))


class WindowAttentionFunction(torch.autograd.Function):
    """:func:`fused_window_attention` followed by the output projection, whose backward pass
    recomputes the attention weights and the attention output.

    Saved for backward: ``qkv`` only (``3 * C`` channels per token); the attention output, which
    the projection would keep, is recomputed with the weights.
    """

    @staticmethod
    def forward(ctx, qkv: torch.Tensor, bias: Optional[torch.Tensor], proj_weight: torch.Tensor,
                proj_bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(qkv, bias, proj_weight, proj_bias)
        return F.linear(fused_window_attention(qkv, bias), proj_weight.to(qkv.dtype),
                        None if proj_bias is None else proj_bias.to(qkv.dtype))

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        qkv, bias, proj_weight, proj_bias = ctx.saved_tensors
        query, key, value = _split_heads(qkv)
        heads, dims = qkv.shape[3], qkv.shape[4]
        scale = dims**-0.5
        logits = query @ key.transpose(-2, -1) * scale
        if bias is not None:
            logits = logits + bias.to(logits.dtype)
        weights = logits.softmax(dim=-1)  # N x heads x L x L
        out = weights @ value  # N x heads x L x d
        grad_y = grad_y.to(qkv.dtype)
        grad_proj_weight = grad_y.flatten(0, 1).t() @ _merge_heads(out).flatten(0, 1)
        grad_proj_bias = None if proj_bias is None else grad_y.sum((0, 1))
        grad_out = (grad_y @ proj_weight.to(qkv.dtype)).view(*grad_y.shape[:2], heads, dims)
        grad_out = grad_out.transpose(1, 2)
        grad_weights = grad_out @ value.transpose(-2, -1)
        # Softmax backward: dS = P * (dP - sum_j P_j dP_j), and sum_j P_j dP_j = <dO, O>.
        grad_logits = weights * (grad_weights - (grad_out * out).sum(-1, keepdim=True))
        grad_qkv = torch.empty_like(qkv)
        grad_query, grad_key, grad_value = _split_heads(grad_qkv)
        torch.matmul(grad_logits, key, out=grad_query)
        grad_query.mul_(scale)
        torch.matmul(grad_logits.transpose(-2, -1), query, out=grad_key)
        grad_key.mul_(scale)
        torch.matmul(weights.transpose(-2, -1), grad_out, out=grad_value)
        grad_bias = None
        if bias is not None and ctx.needs_input_grad[1]:
            grad_bias = grad_logits.sum(0).to(bias.dtype)
        return (grad_qkv, grad_bias, grad_proj_weight.to(proj_weight.dtype),
                None if grad_proj_bias is None else grad_proj_bias.to(proj_bias.dtype))


def attention_and_projection(qkv: torch.Tensor, bias: Optional[torch.Tensor],
                             proj: nn.Linear) -> torch.Tensor:
    """``proj(attention)``: ``N x L x 3 x heads x d`` packed projections (+ ``heads x L x L``
    bias) -> ``N x L x C_out``; when gradients are needed, through
    :class:`WindowAttentionFunction`."""
    params = (qkv, bias, proj.weight, proj.bias)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in params):
        return WindowAttentionFunction.apply(*params)
    return proj(fused_window_attention(qkv, bias))
