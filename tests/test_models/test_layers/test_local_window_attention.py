"""The window attention against its formula, written out with explicit products."""
import torch

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
