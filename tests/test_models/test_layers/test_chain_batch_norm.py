"""BatchNorm in a recomputed chain: the replay normalises with the forward pass's batch statistics
and gives the gradients of PyTorch's training-mode BatchNorm."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from mmhrformer.models.layers.chain_batch_norm import (batch_norm, begin_batch, generation,
                                                       replay_batch_norm)
from mmhrformer.models.layers.channels_last_batch_norm import rows_per_fold
from .test_channels_last_batch_norm import assert_close_to_reference
from .test_depthwise_conv_ffn import make_ffn, one_by_one


class CountKernels(TorchDispatchMode):
    """Counts the kernel calls ``(name, args)`` for which ``counts`` is true."""

    def __init__(self, counts):
        super().__init__()
        self.counts = counts
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += bool(self.counts(func.overloadpacket.__name__, args))
        return func(*args, **(kwargs or {}))


def batch_reductions():
    """Counts the forward BatchNorm kernels (each reduces its input to the batch's statistics)."""
    return CountKernels(lambda name, args: 'batch_norm' in name and 'backward' not in name)


def training_backward_kernels():
    """Counts PyTorch's training-mode BatchNorm backward kernels."""
    return CountKernels(lambda name, args: name == 'native_batch_norm_backward' and args[7])


@pytest.mark.parametrize('affine', [True, False])
def test_replay_gives_the_output_and_gradients_of_the_training_batch_norm(affine):
    """float64, so that a missing term (the batch statistics' dependence on the input) shows."""
    torch.manual_seed(0)
    norm = nn.BatchNorm2d(6, affine=affine).double()
    if affine:
        nn.init.uniform_(norm.weight, 0.5, 1.5)
        nn.init.normal_(norm.bias)
    x = torch.randn(4, 6, 5, 3, dtype=torch.double) * 3 + 1
    expected = F.batch_norm(x.requires_grad_(), None, None, norm.weight, norm.bias, True, 0.,
                            norm.eps)
    with torch.no_grad():
        out = batch_norm(norm, x, norm.weight, norm.bias)
    inputs = x.detach().requires_grad_()
    replayed = replay_batch_norm(norm, inputs, norm.weight, norm.bias, generation(norm))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(replayed, expected)
    grad = torch.randn_like(expected)
    params = list(norm.parameters())
    got = torch.autograd.grad(replayed, [inputs, *params], grad)
    want = torch.autograd.grad(expected, [x, *params], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_a_channels_last_replay_of_a_channel_count_off_the_vector_width_gives_the_gradients():
    """78 channels, channels-last float32: the backward pass runs on folded rows."""
    torch.manual_seed(0)
    norm = nn.BatchNorm2d(78)
    nn.init.uniform_(norm.weight, 0.5, 1.5)
    x = (torch.randn(2, 78, 32, 24) * 2 + 1).contiguous(memory_format=torch.channels_last)
    assert rows_per_fold(x) > 1
    with torch.no_grad():
        batch_norm(norm, x, norm.weight, norm.bias)
    inputs = x.clone().requires_grad_()
    replayed = replay_batch_norm(norm, inputs, norm.weight, norm.bias, generation(norm))
    grad = torch.randn_like(x)
    with training_backward_kernels() as kernels:
        got = torch.autograd.grad(replayed, [inputs, norm.weight, norm.bias], grad)
    assert kernels.count == 0
    reference = nn.BatchNorm2d(78).double()
    reference.load_state_dict(norm.state_dict())
    x64 = x.double().requires_grad_()
    want = torch.autograd.grad(reference(x64), [x64, *reference.parameters()], grad.double())
    for g, w in zip(got, want):
        assert_close_to_reference(g, w)


def test_running_averages_are_updated_by_the_forward_pass_only():
    norm = nn.BatchNorm2d(4, momentum=0.5)
    x = torch.randn(3, 4, 2, 2) + 2
    batch_norm(norm, x, norm.weight, norm.bias, update_factor=begin_batch(norm))
    mean_after_forward = norm.running_mean.clone()
    torch.testing.assert_close(mean_after_forward, 0.5 * x.mean(dim=(0, 2, 3)))
    replay_batch_norm(norm, x.requires_grad_(), norm.weight, norm.bias, generation(norm))
    assert torch.equal(norm.running_mean, mean_after_forward)
    assert norm.num_batches_tracked.item() == 1


def test_a_training_step_of_the_ffn_reduces_each_batch_once(split):
    """Forward: one reduction per norm and channel group; backward: none (the replays reuse them).
    """
    ffn = make_ffn(hidden=32).train()
    x = torch.randn(2, 8, 6, 5, requires_grad=True)
    with batch_reductions() as forward:
        out = ffn(x)
    with batch_reductions() as backward:
        out.sum().backward()
    groups = 2 if split else 1
    assert forward.count == 2 * groups + 1
    assert backward.count == 0


def test_bf16_maps_are_replayed_in_bf16():
    norm = nn.BatchNorm2d(4)
    x = torch.randn(2, 4, 3, 3).bfloat16()
    out = batch_norm(norm, x, norm.weight, norm.bias)
    replayed = replay_batch_norm(norm, x.requires_grad_(), norm.weight, norm.bias,
                                 generation(norm))
    assert out.dtype == replayed.dtype == torch.bfloat16
    torch.testing.assert_close(replayed, out)


def test_one_value_per_channel_is_refused_as_by_pytorch():
    norm = nn.BatchNorm2d(4)
    with pytest.raises(ValueError, match=r'more than 1 value per channel.*\[1, 4, 1, 1\]'):
        batch_norm(norm, torch.randn(1, 4, 1, 1), norm.weight, norm.bias)


def test_a_second_forward_pass_before_the_backward_pass_keeps_the_gradients_right():
    """The store holds the latest forward pass's statistics: the earlier chain's replay reduces its
    own batch again instead of taking them."""
    ffn = make_ffn(hidden=32).double().train()
    reference = copy.deepcopy(ffn)
    x1, x2 = (torch.randn(2, 8, 6, 5, dtype=torch.double, requires_grad=True) for _ in range(2))
    loss = (ffn(x1) * 2 + ffn(x2 * 3)).sum()
    expected = (one_by_one(reference, x1) * 2 + one_by_one(reference, x2 * 3)).sum()
    params = list(ffn.parameters())
    got = torch.autograd.grad(loss, [x1, x2, *params])
    want = torch.autograd.grad(expected, [x1, x2, *reference.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_each_norm_keeps_its_statistics_in_one_store_across_steps():
    ffn = make_ffn(hidden=32).train()
    stores = []
    for _ in range(2):
        ffn(torch.randn(2, 8, 6, 5, requires_grad=True)).sum().backward()
        stores.append([norm._chain_statistics.data_ptr() for norm in (ffn.norm1, ffn.norm2,
                                                                      ffn.norm3)])
    assert stores[0] == stores[1]
