"""The HRFormer block against its formula, and its gradient checkpointing."""
import copy

import pytest
import torch

from mmhrformer.models.layers import HRFormerBlock
from .test_local_window_attention import reference_attention


def reference_block(block, x):
    """``x + Attn(LN(x))`` then ``x + FFN(LN(x))``, each module run on its own."""
    tokens = x.permute(0, 2, 3, 1)
    tokens = tokens + reference_attention(block.attn, block.norm1(tokens))
    hidden = block.norm2(tokens).permute(0, 3, 1, 2)
    for name in ('fc1', 'norm1', 'act1', 'dwconv', 'norm2', 'act2', 'fc2', 'norm3', 'act3'):
        hidden = getattr(block.ffn, name)(hidden)
    return (tokens + hidden.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def make_block(seed=0, **kwargs):
    """A float64 block with every weight, bias and statistic away from its initial value."""
    torch.manual_seed(seed)
    block = HRFormerBlock(16, num_heads=2, window_size=4, **kwargs)
    with torch.no_grad():
        for name, tensor in block.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.2 * torch.randn_like(tensor))
            if name.endswith('running_var'):
                tensor.abs_().add_(0.5)
    return block.double()


def training_step(block, forward, x, grad):
    """The output of ``forward(block, x)``, the gradients of ``x`` and of the block's parameters
    for the output gradient ``grad``, and the block's buffers afterwards, in one flat list."""
    out = forward(block, x)
    grads = torch.autograd.grad(out, [x, *block.parameters()], grad)
    return [out, *grads, *(b.clone() for b in block.buffers())]


def assert_all_close(actual, expected, **tolerance):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, **tolerance)


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_outputs_gradients_and_statistics_equal_the_formula(mode):
    """In float64, so that float32 rounding does not hide a wrong term."""
    block = make_block().train(mode == 'train')
    x = torch.randn(2, 16, 9, 6, dtype=torch.double, requires_grad=True)  # windows pad to 12 x 8
    grad = torch.randn_like(x)
    reference = copy.deepcopy(block)
    assert_all_close(training_step(block, HRFormerBlock.__call__, x, grad),
                     training_step(reference, reference_block, x, grad))


def test_with_cp_gives_the_plain_gradients_and_updates_the_statistics_once():
    """Checkpointed, the block runs twice per step; its BatchNorms count and average the batch
    once, as without checkpointing."""
    plain = make_block().train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.with_cp = True
    x = torch.randn(2, 16, 9, 6, dtype=torch.double, requires_grad=True)
    grad = torch.randn_like(x)
    assert_all_close(training_step(checkpointed, HRFormerBlock.__call__, x, grad),
                     training_step(plain, HRFormerBlock.__call__, x, grad))
    assert checkpointed.ffn.norm1.num_batches_tracked == 1
