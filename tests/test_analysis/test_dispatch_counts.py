"""FLOPs and aten ops of small known computations."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmhrformer.analysis.dispatch_counts import AtenOpCounter, flop_counter


def _flops(run) -> int:
    with flop_counter() as counter:
        run()
    return counter.get_total_flops()


def test_linear_layer_flops_forward_and_backward():
    """A multiply-add is 2 FLOPs: 2 * 4 * 16 * 32 for the product, and as many again for each
    of the two gradients (input and weight)."""
    linear = nn.Linear(16, 32)
    x = torch.randn(4, 16, requires_grad=True)
    assert _flops(lambda: linear(x)) == 2 * 4 * 16 * 32
    assert _flops(lambda: linear(x).sum().backward()) == 3 * 2 * 4 * 16 * 32


def test_convolution_flops_count_each_output_over_its_group():
    x = torch.randn(1, 8, 8, 8)
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    with torch.no_grad():
        assert _flops(lambda: conv(x)) == 2 * (8 * 8 * 16) * (8 * 3 * 3)
        assert _flops(lambda: depthwise(x)) == 2 * (8 * 8 * 8) * (1 * 3 * 3)


def test_each_convolution_gradient_takes_as_many_flops_as_the_convolution():
    """Dense and depth-wise alike (torch's own rule counts a depth-wise weight gradient as if the
    convolution were dense: 8 times too many here)."""
    for groups in (1, 8):
        conv = nn.Conv2d(8, 8, 3, padding=1, groups=groups, bias=False)
        x = torch.randn(2, 8, 8, 8, requires_grad=True)
        forward = 2 * 2 * (8 * 8 * 8) * (8 // groups * 3 * 3)
        assert _flops(lambda: conv(x).sum().backward()) == 3 * forward
        assert _flops(lambda: conv(x.detach()).sum().backward()) == 2 * forward  # no input grad


def test_attention_flops_on_the_cpu_kernel():
    """Forward: the scores and their product with v; backward: the scores recomputed and four
    products for the gradients. Each product is ``B * heads * L * L * d`` multiply-adds."""
    q = torch.randn(2, 3, 16, 8, requires_grad=True)
    product = 2 * (2 * 3 * 16 * 16 * 8)
    with AtenOpCounter() as ops:
        flops = _flops(lambda: F.scaled_dot_product_attention(q, q, q).sum().backward())
    assert ops.ops[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default] == 1
    assert flops == (2 + 5) * product


def test_op_counter_counts_each_call_and_the_views_apart():
    x = torch.randn(4, 4)
    with AtenOpCounter() as ops:
        x.t().mm(x).relu().sum()
        x.view(16).neg()
    aten = torch.ops.aten
    assert ops.ops == {aten.t.default: 1, aten.mm.default: 1, aten.relu.default: 1,
                       aten.sum.default: 1, aten.view.default: 1, aten.neg.default: 1}
    assert (ops.total, ops.views, ops.non_views) == (6, 2, 4)
