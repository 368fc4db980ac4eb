"""oneDNN's convolution with a fused activation (and residual sum), and its linear layer with the
bias added as it writes, against the plain PyTorch ops, and when they are used."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmhrformer.models.layers import fused_ops
from mmhrformer.models.layers.fused_ops import conv2d_activation, conv2d_add_activation, linear

ACTIVATIONS = [nn.ReLU(), nn.GELU(), nn.GELU(approximate='tanh')]


@pytest.fixture
def fused_calls(monkeypatch):
    """Records the calls of the fused kernels: the post-ops of each."""
    calls = []
    for name, post_ops in (('_FUSED_CONV', slice(7, 8)), ('_FUSED_CONV_ADD', slice(8, 11, 2)),
                           ('_FUSED_LINEAR', slice(3, 4))):
        kernel = getattr(fused_ops, name)
        assert kernel is not None, f'this PyTorch build has no oneDNN kernel for {name}'

        def counting(*args, kernel=kernel, post_ops=post_ops):
            calls.append(args[post_ops])
            return kernel(*args)

        monkeypatch.setattr(fused_ops, name, counting)
    return calls


@pytest.mark.parametrize('act', ACTIVATIONS, ids=lambda a: repr(a))
@pytest.mark.parametrize('groups,kernel', [(1, 1), (8, 3)])
@pytest.mark.parametrize('layout', [torch.contiguous_format, torch.channels_last])
def test_fused_kernel_equals_convolution_then_activation(fused_calls, act, groups, kernel,
                                                         layout):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, kernel, padding=kernel // 2, stride=2 if kernel == 3 else 1,
                     groups=groups)
    x = torch.randn(2, 8, 9, 7).contiguous(memory_format=layout)
    with torch.no_grad():
        actual = conv2d_activation(x, conv.weight, conv.bias, conv, act)
        expected = act(conv(x))
    assert fused_calls, 'the fused kernel was not used'
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('act', ACTIVATIONS, ids=lambda a: repr(a))
@pytest.mark.parametrize('layout', [torch.contiguous_format, torch.channels_last])
def test_fused_sum_equals_convolution_plus_residual_then_activation(fused_calls, act, layout):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 1)
    x = torch.randn(2, 8, 9, 7).contiguous(memory_format=layout)
    residual = torch.randn(2, 16, 9, 7).contiguous(memory_format=layout)
    with torch.no_grad():
        actual = conv2d_add_activation(x, residual, conv.weight, conv.bias, conv, act)
        expected = act(conv(x) + residual)
    # oneDNN's kernel takes only ReLU after a sum: GELU runs the plain ops.
    assert fused_calls == ([('add', 'relu')] if isinstance(act, nn.ReLU) else [])
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)


def test_gradients_autocast_and_other_activations_run_the_plain_ops(fused_calls):
    conv = nn.Conv2d(4, 4, 1)
    x = torch.randn(1, 4, 5, 5)
    out = conv2d_activation(x, conv.weight, conv.bias, conv, nn.GELU())
    assert out.requires_grad  # a gradient is needed: the fused kernel has no backward pass
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert conv2d_activation(x, conv.weight, conv.bias, conv, nn.GELU()).dtype == \
            torch.bfloat16
    with torch.no_grad():
        torch.testing.assert_close(conv2d_activation(x, conv.weight, conv.bias, conv, nn.SiLU()),
                                   nn.SiLU()(conv(x)))
        torch.testing.assert_close(
            conv2d_add_activation(x, x.double(), conv.weight, conv.bias, conv, nn.ReLU()),
            nn.ReLU()(conv(x) + x.double()))  # a residual of another dtype
    assert fused_calls == []


@pytest.mark.parametrize('contiguous', [True, False])
def test_fused_linear_equals_linear(fused_calls, contiguous):
    torch.manual_seed(0)
    weight, bias = torch.randn(12, 8), torch.randn(12)
    x = torch.randn(6, 5, 8) if contiguous else torch.randn(6, 10, 8)[:, ::2]
    with torch.no_grad():
        actual = linear(x, weight, bias)
    assert fused_calls == [('none', )]
    torch.testing.assert_close(actual, F.linear(x, weight, bias), rtol=1e-5, atol=1e-6)


def test_linear_with_gradients_autocast_or_without_bias_runs_the_plain_op(fused_calls):
    weight, bias = torch.randn(4, 3, requires_grad=True), torch.randn(4)
    x = torch.randn(2, 3)
    assert linear(x, weight, bias).requires_grad
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert linear(x, weight, bias).dtype == torch.bfloat16
    with torch.no_grad():
        torch.testing.assert_close(linear(x, weight, None), F.linear(x, weight))
        torch.testing.assert_close(linear(x.double(), weight.double(), bias.double()),
                                   F.linear(x.double(), weight.double(), bias.double()))
    assert fused_calls == []
