"""The FFN's GELU on channels-last maps: the values (to rounding) and layout of ``nn.GELU``,
computed on the contiguous token view of the same memory."""
import pytest
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from mmhrformer.models.layers import DepthwiseConvFFN
from mmhrformer.models.layers.channels_last_gelu import ChannelsLastGELU, build_ffn_activation


class GeluInputs(TorchDispatchMode):
    """Records whether each GELU op (forward or backward) got contiguous inputs."""

    def __init__(self):
        super().__init__()
        self.contiguous = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if 'gelu' in func.__name__:
            self.contiguous.append(all(a.is_contiguous() for a in args
                                       if isinstance(a, torch.Tensor)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
@pytest.mark.parametrize('layout', [torch.channels_last, torch.contiguous_format])
def test_values_gradients_and_layout_equal_gelu(approximate, layout):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 3).contiguous(memory_format=layout).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    grad = torch.randn(2, 5, 4, 3).contiguous(memory_format=layout)  # as a conv's backward gives
    with GeluInputs() as gelu_ops:
        out = ChannelsLastGELU(approximate)(x)
        out.backward(grad)
    expected = nn.GELU(approximate)(reference)
    expected.backward(grad)
    # The kernel for contiguous tensors and the one for channels-last ones round differently.
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(x.grad, reference.grad, rtol=1e-6, atol=1e-6)
    assert out.stride() == expected.stride()
    assert gelu_ops.contiguous == [True, True]  # forward and backward on the contiguous view


def test_ffn_builds_it_for_gelu_only():
    assert type(build_ffn_activation(dict(type='GELU', approximate='tanh'))) is ChannelsLastGELU
    assert build_ffn_activation(dict(type='GELU', approximate='tanh')).approximate == 'tanh'
    assert type(build_ffn_activation(dict(type='ReLU'))) is nn.ReLU
    ffn = DepthwiseConvFFN(4, 8)
    assert all(type(act) is ChannelsLastGELU for act in (ffn.act1, ffn.act2, ffn.act3))


def test_traced_as_the_plain_gelu():
    """Tracers get ``aten::gelu`` on the map itself, with no transposes around it that would
    keep a graph compiler from fusing it into the op before it."""
    x = torch.randn(2, 5, 4, 3).contiguous(memory_format=torch.channels_last)
    traced = torch.jit.trace(ChannelsLastGELU(), x)
    kinds = [node.kind() for node in traced.inlined_graph.nodes()]
    assert 'aten::gelu' in kinds and 'aten::permute' not in kinds
    torch.testing.assert_close(traced(x), nn.GELU()(x), rtol=0, atol=0)
