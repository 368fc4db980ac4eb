"""The window attention against its formula, written out with explicit products, and in fp16 on
inputs whose scores overflow fp16."""
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from mmhrformer.models.layers import LocalWindowAttention
from mmhrformer.models.layers.local_window_attention import relative_position_index
from mmhrformer.models.layers.windows import merge_windows, partition_windows


def reference_attention(attn, x):
    """``proj(softmax(q k^T / sqrt(d) + B) v)`` in each window of ``x`` (``B x H x W x C``)."""
    windows = partition_windows(x, attn.window_size)
    n, length, channels = windows.shape
    qkv = attn.qkv(windows).view(n, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv
    logits = query @ key.transpose(-2, -1) * (channels // attn.num_heads)**-0.5
    table = attn.relative_position_bias_table
    bias = torch.stack([table[relative_position_index(attn.window_size), head]
                        for head in range(attn.num_heads)])
    out = ((logits + bias).softmax(-1) @ value).transpose(1, 2).reshape(n, length, channels)
    return merge_windows(attn.proj(out), x.shape[1:3], attn.window_size)


def test_relative_position_index_pairs_equal_offsets_with_equal_entries():
    index = relative_position_index((3, 4))
    assert index.shape == (12, 12)
    assert index.min() == 0 and index.max() == 5 * 7 - 1
    # (row 0, col 0) vs (row 1, col 2) and (row 1, col 1) vs (row 2, col 3): same offset
    assert index[0, 6] == index[5, 11]
    assert index[0, 0] == (3 - 1) * 7 + (4 - 1)


def test_outputs_and_gradients_equal_the_formula():
    """float64; a 9 x 6 map is centre-padded to 12 x 8 for windows of 4."""
    torch.manual_seed(0)
    attn = LocalWindowAttention(16, num_heads=2, window_size=4).double()
    torch.nn.init.normal_(attn.relative_position_bias_table)
    x = torch.randn(2, 9, 6, 16, dtype=torch.double, requires_grad=True)
    actual, expected = attn(x), reference_attention(attn, x)
    torch.testing.assert_close(actual, expected)
    grad = torch.randn_like(actual)
    inputs = [x, *attn.parameters()]
    for got, want in zip(torch.autograd.grad(actual, inputs, grad),
                         torch.autograd.grad(expected, inputs, grad)):
        torch.testing.assert_close(got, want)


def test_relative_position_index_is_not_saved():
    attn = LocalWindowAttention(8, num_heads=2, window_size=7)
    assert 'relative_position_index' not in attn.state_dict()
    assert 'relative_position_bias_table' in attn.state_dict()


FP16_MAX = torch.finfo(torch.float16).max


def large_activation_attention():
    """An attention and an input whose scores ``q k^T / sqrt(d)`` reach about 1e5, beyond what
    fp16 holds (65504), while every input, weight, query, key and value is well inside it."""
    torch.manual_seed(0)
    attn = LocalWindowAttention(32, num_heads=2, window_size=7)
    torch.nn.init.normal_(attn.qkv.weight)  # std 1: queries and keys of a few hundred
    torch.nn.init.normal_(attn.relative_position_bias_table)
    return attn, 60 * torch.randn(2, 10, 9, 32)  # centre-padded to 14 x 14


def largest_score(attn, x):
    """max |q k^T / sqrt(d)| over the windows of ``x``, in float64."""
    windows = partition_windows(x.double(), attn.window_size)
    qkv = attn.double().qkv(windows).view(*windows.shape[:2], 3, attn.num_heads, -1)
    query, key = qkv.permute(2, 0, 3, 1, 4)[:2]
    return (query @ key.transpose(-2, -1) * query.shape[-1]**-0.5).abs().max().item()


def test_large_activations_give_scores_beyond_fp16():
    """What the next test guards against: the scores overflow fp16 when computed in fp16."""
    attn, x = large_activation_attention()
    assert largest_score(attn, x) > 1.5 * FP16_MAX
    windows = partition_windows(x.half(), attn.window_size)
    qkv = attn.half().qkv(windows).view(*windows.shape[:2], 3, attn.num_heads, -1)
    query, key = qkv.permute(2, 0, 3, 1, 4)[:2]
    assert torch.isfinite(query).all() and torch.isfinite(key).all()
    assert not torch.isfinite(query * query.shape[-1]**-0.5 @ key.transpose(-2, -1)).all()


@pytest.mark.parametrize('backend, training', [(SDPBackend.MATH, True),
                                               (SDPBackend.FLASH_ATTENTION, False)],
                         ids=['math-training', 'fused-inference'])
def test_fp16_attention_with_large_activations_stays_finite(backend, training):
    """PyTorch's attention kernels on the CPU take fp16 inputs but compute the scores and the
    softmax in float32: the reference "math" kernel (the one that serves in training, where the
    position bias needs a gradient) and the fused one (inference). So the layer needs no cast of
    its own: its fp16 outputs (and gradients) are finite and equal the float64 formula to fp16's
    precision."""
    attn, x = large_activation_attention()
    expected = reference_attention(attn.double(), x.double())
    half = attn.half()
    inputs = x.half().requires_grad_(training)
    with sdpa_kernel([backend]), torch.set_grad_enabled(training):
        out = half(inputs)
        if training:
            out.float().square().mean().backward()
    assert torch.isfinite(out).all()
    error = (out.double() - expected).abs().max() / expected.abs().max()
    assert error < 1e-2
    if training:
        assert torch.isfinite(inputs.grad).all()
        assert all(torch.isfinite(p.grad).all() for p in half.parameters())
