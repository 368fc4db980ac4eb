"""The HRFormer block against its formula written out with plain modules, and what it keeps for
backward."""
import copy

import pytest
import torch

from mmhrformer.models.layers import HRFormerBlock
from mmhrformer.models.layers.windows import merge_windows, partition_windows
from .test_depthwise_conv_ffn import largest_tensors_in_training
from .test_local_window_attention import reference_window_attention, saved_storage_bytes


def reference_block(block, x):
    """``x + Attn(LN(x))`` then ``x + FFN(LN(x))``, each module run on its own."""
    tokens = x.permute(0, 2, 3, 1)
    window_size = block.attn.window_size
    windows = partition_windows(block.norm1(tokens), window_size)
    attended = reference_window_attention(block.attn, windows)
    tokens = tokens + merge_windows(attended, tokens.shape[1:3], window_size)
    hidden = block.norm2(tokens).permute(0, 3, 1, 2)
    for module in block.ffn:
        hidden = module(hidden)
    return (tokens + hidden.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def make_block(seed=0):
    torch.manual_seed(seed)
    block = HRFormerBlock(16, num_heads=2, window_size=4)
    torch.nn.init.normal_(block.attn.relative_position_bias_table)
    for norm in (block.norm1, block.norm2):
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
        torch.nn.init.normal_(norm.bias)
    return block


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_outputs_gradients_and_statistics_equal_the_formula(mode, split):
    """In float64, so that float32 rounding does not hide a wrong term (the gradient of a bias
    before a BatchNorm is only rounding noise in training)."""
    ours = make_block().double().train(mode == 'train')
    reference = copy.deepcopy(ours)
    x = torch.randn(2, 16, 9, 6, dtype=torch.double, requires_grad=True)  # windows pad to 12 x 8
    grad = torch.randn_like(x)
    actual, expected = ours(x), reference_block(reference, x)
    torch.testing.assert_close(actual, expected)
    got = torch.autograd.grad(actual, [x, *ours.parameters()], grad)
    want = torch.autograd.grad(expected, [x, *reference.parameters()], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    torch.testing.assert_close(dict(ours.named_buffers()), dict(reference.named_buffers()))


def test_training_keeps_three_maps_of_the_block_width():
    """Kept for backward: the block's input, the map after the attention's residual and the
    FFN's last convolution output. Not the normalised maps, windows, hidden maps or attention
    matrices (the plain formula keeps about 29 maps of ``C`` here)."""
    block = make_block().train()
    x = torch.randn(3, 16, 9, 6, requires_grad=True).contiguous(memory_format=torch.channels_last)
    assert saved_storage_bytes(lambda: block(x), batch=3) == 3 * x.numel() * 4
    plain = saved_storage_bytes(lambda: reference_block(block, x), batch=3)
    assert plain > 20 * x.numel() * 4


def test_training_makes_no_tensor_wider_than_twice_the_map_when_split(split):
    """Split (as for large inputs, see ``SPLIT_BYTES``), neither the FFN's 4x-wide hidden map nor
    the 3x-wide query/key/value of all windows is made: the largest tensor made in the forward pass
    is a group of the FFN's hidden channels, twice the map; in the backward pass the map padded to
    whole windows (12 x 8), which the attention's replay makes, is larger than the FFN's groups
    there (as wide as the map)."""
    block = make_block().train()
    x = torch.randn(3, 16, 9, 6, requires_grad=True)
    padded_map = 3 * 16 * 12 * 8
    assert x.numel() < padded_map < 2 * x.numel()
    expected = (2 * x.numel(), padded_map) if split else (3 * padded_map, 3 * padded_map)
    assert largest_tensors_in_training(block, x) == expected
    assert max(largest_tensors_in_training(lambda x: reference_block(block, x), x)) >= \
        3 * padded_map
