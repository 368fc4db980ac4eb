"""FLOPs and parameters, counted by mmengine's FLOP counter (fvcore's rules).

What the counter counts: one multiply-add = one FLOP for convolutions, linear layers and matrix
products; batch norm counts about one per input element (eval mode), layer norm two, bilinear
upsampling four per output element, nearest one; element-wise ops (activations, residual
additions, softmax) and the mean pooling (``torch.mean``) are not counted. mmengine has no rule for
``scaled_dot_product_attention``: we add one that counts its two matrix products
(``q @ k^T`` and ``attn @ v``), as the counter does for explicit matmuls. With these rules,
mmpose's own HRFormer-S/B pose backbones count 3.33/14.10 GFLOPs at 256x192 (the paper: 2.8/12.2).
"""
from typing import Any, Dict, List, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer


def _sdpa_flops(inputs: List[Any], outputs: List[Any]) -> int:
    """``B x heads x L x d`` query, key and value: ``L * L * d`` multiply-adds per product."""
    from mmengine.analysis.jit_handles import get_shape
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    value_dims = get_shape(inputs[2])[-1]
    batch = 1
    for dim in query[:-2]:
        batch *= dim
    return batch * query[-2] * key[-2] * (query[-1] + value_dims)


def count_flops_and_params(model: nn.Module, input_shape: Tuple[int, ...]) -> Dict[str, float]:
    """Returns ``{'flops': ..., 'params': ...}`` of ``model`` in eval mode on one
    ``1 x input_shape`` input (no gradients)."""
    model.eval()  # (not chained: mmpose's HRNet.train() returns None)
    inputs = (torch.randn(1, *input_shape), )
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, inputs)
        analyzer.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flops)
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        flops = analyzer.total()
    params = sum(p.numel() for p in model.parameters())
    return dict(flops=float(flops), params=float(params))
