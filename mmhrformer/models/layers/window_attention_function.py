"""Window attention with its input and output projections, and its own backward pass.

In training, autograd would keep the packed query/key/value (``3 * C`` channels per token), the
softmax of every window's logits (``heads x L x L`` per window: PyTorch's fused kernels have no
gradient for a bias, so it falls back to its unfused "math" kernel) and the attention output.
:class:`WindowAttentionEnd` runs the fused kernel forward and keeps nothing: as the end of a
:class:`.RecomputedChain` (layer norm -> windows -> attention), it gets the windows replayed from
the chain's input, and its backward pass recomputes the projections, the softmax and the output of
one layer from them, as flash-attention does for its softmax, and also returns the bias gradient.
When the packed query/key/value of all windows (three times as wide as the windows) would take
:data:`.recomputed_chain.SPLIT_BYTES` or more, both passes run on a third of the windows at a time,
so that it is no larger than the windows (see there why).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fused_ops import linear
from .recomputed_chain import SPLIT_BYTES, ChainEnd
from .tracing import traced_or_compiled

#: Large inputs are attended to in this many chunks of windows (query/key/value: ``3 * C`` wide).
WINDOW_CHUNKS = 3


def _split_heads(qkv: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``N x L x 3 x heads x d`` -> query, key, value views, each ``N x heads x L x d``."""
    query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    return query, key, value


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``N x heads x L x d`` -> ``N x L x (heads * d)``, contiguous."""
    num_windows, heads, length, dims = x.shape
    return x.transpose(1, 2).reshape(num_windows, length, heads * dims)


def _cast(tensor: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
    return None if tensor is None else tensor.to(dtype)


def project_qkv(windows: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                num_heads: int, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """The packed query/key/value projection: ``N x L x C`` -> ``N x L x 3 x heads x d``, computed
    in ``dtype`` (by default the one autocast picks)."""
    if dtype is not None:
        windows, weight, bias = windows.to(dtype), weight.to(dtype), _cast(bias, dtype)
    qkv = linear(windows, weight, bias)
    return qkv.view(*windows.shape[:2], 3, num_heads, -1)


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


def _attention_forward(windows: torch.Tensor, num_heads: int, qkv_weight: torch.Tensor,
                       qkv_bias: Optional[torch.Tensor], bias: Optional[torch.Tensor],
                       proj_weight: torch.Tensor,
                       proj_bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``proj(attention(qkv(windows)))``: ``N x L x C`` -> ``N x L x C_out``, the projections
    in the dtype of the packed query/key/value (the one autocast picks)."""
    qkv = project_qkv(windows, qkv_weight, qkv_bias, num_heads)
    return linear(fused_window_attention(qkv, bias), _cast(proj_weight, qkv.dtype),
                  _cast(proj_bias, qkv.dtype))


def _attention_backward(qkv: torch.Tensor, bias: Optional[torch.Tensor], grad_out: torch.Tensor,
                        bias_needs_grad: bool):
    """Recomputes softmax and output of the attention; returns the output (``N x heads x L x
    d``), the gradient of ``qkv`` (``N x L x 3 x heads x d``, contiguous) and that of the bias
    (or None). ``grad_out`` is the gradient of the output, ``N x L x heads x d``.

    Query, key, value and ``grad_out`` are copied once into ``(N * heads) x L x d`` blocks; a
    product of the strided views copies its operands again at every product. This function is
    2-25% faster so at HRFormer's window shapes (least with one head), a block's training step
    0-4% (interleaved).
    """
    num_windows, length, _, heads, dims = qkv.shape
    scale = dims**-0.5
    query, key, value = (t.reshape(num_windows * heads, length, dims) for t in _split_heads(qkv))
    grad_out = grad_out.transpose(1, 2).reshape(num_windows * heads, length, dims)
    if bias is None:
        logits = torch.bmm(query, key.mT).mul_(scale)
    else:
        logits = bias.to(query.dtype).repeat(num_windows, 1, 1)
        logits.baddbmm_(query, key.mT, alpha=scale)
    weights = logits.softmax(dim=-1)  # (N * heads) x L x L
    grad_logits = torch._softmax_backward_data(
        torch.bmm(grad_out, value.mT), weights, -1, weights.dtype)
    grads = (torch.bmm(grad_logits, key).mul_(scale), torch.bmm(grad_logits.mT, query).mul_(scale),
             torch.bmm(weights.mT, grad_out))
    # One copy into the packed layout (matmul into strided views of it was several times slower).
    grad_qkv = torch.stack([g.view(num_windows, heads, length, dims).transpose(1, 2)
                            for g in grads], 2)
    grad_bias = None
    if bias_needs_grad:
        grad_bias = grad_logits.view(num_windows, heads, length, length).sum(0).to(bias.dtype)
    return torch.bmm(weights, value).view(num_windows, heads, length, dims), grad_qkv, grad_bias


def _linear_param_grads(grad_y: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
                        bias: Optional[torch.Tensor]):
    """Gradients of ``F.linear(x, weight, bias)`` for ``weight`` and ``bias``, in their dtypes;
    ``x`` and ``grad_y`` are ``... x C_in`` and ``... x C_out``."""
    grad_y = grad_y.flatten(0, -2)
    grad_weight = (grad_y.t() @ x.flatten(0, -2)).to(weight.dtype)
    return grad_weight, None if bias is None else grad_y.sum(0).to(bias.dtype)


def _chunks(windows: torch.Tensor) -> List[slice]:
    """Slices of ``windows`` (``N x L x C``) along ``N`` to attend to one at a time: one, or
    :data:`WINDOW_CHUNKS` of about equal size when their query/key/value would be large and no
    tracer or compiler records the ops (a compiled graph plans its own buffers)."""
    num_windows = windows.shape[0]
    large = 3 * windows.numel() * windows.element_size() >= SPLIT_BYTES
    chunks = WINDOW_CHUNKS if large and not traced_or_compiled() else 1
    size = -(-num_windows // chunks)
    return [slice(start, start + size) for start in range(0, num_windows, size)]


class WindowAttentionEnd(ChainEnd):
    """``proj(attention(qkv(windows)))`` as the end of a :class:`.RecomputedChain`: ``N x L x C``
    windows -> ``N x L x C_out``. Its backward pass recomputes ``qkv(windows)``, the attention
    weights and the attention output from the replayed windows, in the dtype the forward pass
    computed in (under autocast, the projections' dtype).

    Args:
        qkv: the packed query/key/value projection, ``C -> 3 * C``.
        num_heads: attention heads.
        bias: the ``heads x L x L`` logits bias, or None.
        proj: the output projection.
    """

    def __init__(self, qkv: nn.Linear, num_heads: int, bias: Optional[torch.Tensor],
                 proj: nn.Linear):
        self.num_heads = num_heads
        self._tensors = [qkv.weight, qkv.bias, bias, proj.weight, proj.bias]

    def tensors(self) -> List[Optional[torch.Tensor]]:
        return self._tensors

    def forward(self, windows, qkv_weight, qkv_bias, bias, proj_weight, proj_bias):
        if bias is not None and not torch.is_grad_enabled():
            # A bias that requires grad sends PyTorch to its unfused kernel, even without grad.
            bias = bias.detach()
        args = (self.num_heads, qkv_weight, qkv_bias, bias, proj_weight, proj_bias)
        chunks = _chunks(windows)
        if len(chunks) == 1:
            return _attention_forward(windows, *args)
        out = None
        for rows in chunks:
            part = _attention_forward(windows[rows], *args)
            if out is None:
                out = part.new_empty((windows.shape[0], *part.shape[1:]))
            out[rows] = part
        return out

    def backward(self, grad_y, windows, tensors, needs_grad):
        grad_windows, grads = torch.empty_like(windows), None
        for rows in _chunks(windows):
            grad_windows[rows], *part = self._chunk_backward(grad_y[rows], windows[rows],
                                                             tensors, needs_grad)
            grads = part if grads is None else [
                total if grad is None else total.add_(grad) for total, grad in zip(grads, part)]
        return [grad_windows, *grads]

    def _chunk_backward(self, grad_y, windows, tensors, needs_grad):
        """The gradients of :meth:`backward` from the windows of one chunk."""
        qkv_weight, qkv_bias, bias, proj_weight, proj_bias = tensors
        dtype, input_dtype = grad_y.dtype, windows.dtype
        windows = windows.to(dtype)
        qkv = project_qkv(windows, qkv_weight, qkv_bias, self.num_heads, dtype)
        heads, dims = qkv.shape[3:]
        grad_out = (grad_y @ proj_weight.to(dtype)).view(*grad_y.shape[:2], heads, dims)
        out, grad_qkv, grad_bias = _attention_backward(
            qkv, bias, grad_out, bias is not None and needs_grad[2])
        grad_qkv = grad_qkv.flatten(2)  # N x L x 3C
        grad_windows = (grad_qkv @ qkv_weight.to(dtype)).to(input_dtype)
        return [grad_windows, *_linear_param_grads(grad_qkv, windows, qkv_weight, qkv_bias),
                grad_bias, *_linear_param_grads(grad_y, _merge_heads(out), proj_weight, proj_bias)]
