"""What the model does differently on the CPU, all of it. Both choices give the values of the
default path, up to the rounding of another order of summation; what they gain:
docs/benchmark.md. On a GPU neither applies (neither has been measured there).

- Channels-last maps. PyTorch's CPU convolutions (oneDNN) compute on channels-last data: given
  maps in the default ``B x C x H x W`` layout, each convolution reorders its input and output.
  The transformer blocks read channels-last too: their layer norms and windows take the ``C``
  values of a pixel side by side. So on the CPU the backbone stores its input channels-last
  (``torch.channels_last``: strides ``(HWC, 1, WC, C)``, the shape unchanged) and the
  convolutions, norms, upsampling and blocks keep that layout to the last map.
- The window attention when a gradient is needed. PyTorch's CPU attention kernel has no gradient
  for an additive bias, so ``F.scaled_dot_product_attention`` falls back to its reference path,
  whose softmax also searches every row for ``-inf`` (three more passes over the ``L x L``
  weights, forward and backward). A window's logits are never ``-inf``: in float32 and float64
  the attention is written out with the plain softmax instead, as mmpretrain's ``WindowMSA``
  does. In fp16 and bf16 (autocast) PyTorch's fallback stays: it computes in float32, where
  scores beyond fp16's range stay finite.
"""
from typing import Optional

import torch
import torch.nn.functional as F


def channels_last_on_cpu(x: torch.Tensor) -> torch.Tensor:
    """``x`` (``B x C x H x W``) stored channels-last if it is on the CPU, else ``x`` itself."""
    if x.device.type != 'cpu':
        return x
    return x.contiguous(memory_format=torch.channels_last)


def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` for ``N x heads x L x d`` query, key and value and a
    bias that broadcasts to ``N x heads x L x L`` (or None): ``F.scaled_dot_product_attention``,
    written out on the CPU where the bias needs a gradient and the query is float32 or float64."""
    if not (query.device.type == 'cpu' and query.dtype in (torch.float32, torch.float64)
            and bias is not None and bias.requires_grad and torch.is_grad_enabled()):
        return F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
    logits = (query * query.shape[-1] ** -0.5) @ key.transpose(-2, -1) + bias
    return logits.softmax(dim=-1) @ value
