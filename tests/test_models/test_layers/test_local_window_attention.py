import torch

from mmhrformer.models.layers import LocalWindowAttention
from mmhrformer.models.layers.local_window_attention import relative_position_index


def reference_window_attention(attn, windows):
    """Explicit softmax(q k^T * scale + bias) v, to check the fused kernel against."""
    n, length, channels = windows.shape
    qkv = attn.qkv(windows).view(n, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv
    logits = query @ key.transpose(-2, -1) * (channels // attn.num_heads)**-0.5
    logits = logits + attn.position_bias()
    out = (logits.softmax(-1) @ value).transpose(1, 2).reshape(n, length, channels)
    return attn.proj(out)


def test_relative_position_index_pairs_equal_offsets_with_equal_entries():
    index = relative_position_index((3, 4))
    assert index.shape == (12, 12)
    assert index.min() == 0 and index.max() == 5 * 7 - 1
    # (row 0, col 0) vs (row 1, col 2) and (row 1, col 1) vs (row 2, col 3): same offset
    assert index[0, 6] == index[5, 11]
    assert index[0, 0] == (3 - 1) * 7 + (4 - 1)


def test_fused_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    attn = LocalWindowAttention(16, num_heads=2, window_size=3).eval()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.)
    windows = torch.randn(5, 9, 16)
    torch.testing.assert_close(attn.attend(windows), reference_window_attention(attn, windows))


def test_relative_position_index_is_not_saved():
    attn = LocalWindowAttention(8, num_heads=2, window_size=7)
    assert 'relative_position_index' not in attn.state_dict()
    assert 'relative_position_bias_table' in attn.state_dict()
