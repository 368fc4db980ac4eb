"""The FFN's training path (recomputed chain) and inference path (folded norms) against running
its modules one after the other."""
import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from mmhrformer.models.layers import (DepthwiseConvFFN, channel_grouped_hidden,
                                      depthwise_conv_ffn)
from mmhrformer.models.layers.channel_grouped_hidden import ChannelGroupedHiddenEnd
from .test_local_window_attention import saved_storage_bytes


def make_ffn(channels=8, hidden=32, seed=0):
    torch.manual_seed(seed)
    ffn = DepthwiseConvFFN(channels, hidden)
    for norm in (ffn.norm1, ffn.norm2, ffn.norm3):
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
        torch.nn.init.normal_(norm.bias)
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2.)
    return ffn


def make_layer_norm(channels=8):
    norm = torch.nn.LayerNorm(channels)
    torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
    torch.nn.init.normal_(norm.bias)
    return norm


def one_by_one(ffn, x, pre_norm=None):
    if pre_norm is not None:
        x = pre_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    for module in ffn:
        x = module(x)
    return x


@pytest.mark.parametrize('hidden', [32, 20])  # 2 groups of 16 channels; 16 + 4
@pytest.mark.parametrize('with_pre_norm', [False, True])
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_outputs_gradients_and_statistics_equal_the_module_sequence(mode, with_pre_norm, hidden,
                                                                    split):
    """In float64, so that float32 rounding does not hide a wrong term (the gradient of a bias
    before a BatchNorm is only rounding noise in training)."""
    torch.manual_seed(1)
    pre_norm = make_layer_norm().double() if with_pre_norm else None
    ours = make_ffn(hidden=hidden).double().train(mode == 'train')
    reference = copy.deepcopy(ours)
    x = torch.randn(3, 8, 9, 7, dtype=torch.double, requires_grad=True)
    grad = torch.randn_like(x)
    actual = ours(x, pre_norm)
    expected = one_by_one(reference, x, pre_norm)
    torch.testing.assert_close(actual, expected)
    norm_params = [] if pre_norm is None else list(pre_norm.parameters())
    got = torch.autograd.grad(actual, [x, *norm_params, *ours.parameters()], grad)
    want = torch.autograd.grad(expected, [x, *norm_params, *reference.parameters()], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    torch.testing.assert_close(dict(ours.named_buffers()), dict(reference.named_buffers()))


def test_statistics_follow_a_cumulative_average_without_momentum(split):
    ours = make_ffn()
    for norm in (ours.norm1, ours.norm2, ours.norm3):
        norm.momentum = None
    reference = copy.deepcopy(ours)
    for seed in range(3):
        x = torch.randn(2, 8, 5, 4, generator=torch.Generator().manual_seed(seed),
                        requires_grad=True)
        ours(x), one_by_one(reference, x)
    torch.testing.assert_close(dict(ours.named_buffers()), dict(reference.named_buffers()))
    assert int(ours.norm1.num_batches_tracked) == 3


def test_training_under_bf16_autocast_matches_the_module_sequence(split):
    ours = make_ffn().train()
    reference = copy.deepcopy(ours)
    x = torch.randn(2, 8, 10, 6, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        actual, expected = ours(x), one_by_one(reference, x)
    assert actual.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(actual, expected, rtol=0.05, atol=0.05)
    # Not the convolution biases before a BatchNorm: their gradients are rounding noise.
    names = [name for name, _ in ours.named_parameters()
             if name not in ('fc1.bias', 'dwconv.bias', 'fc2.bias')]
    got = torch.autograd.grad(actual.float().sum(),
                              [x, *(ours.get_parameter(name) for name in names)])
    want = torch.autograd.grad(expected.float().sum(),
                               [x, *(reference.get_parameter(name) for name in names)])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        torch.testing.assert_close(g, w, rtol=0.05, atol=0.05 * w.abs().max().item())


class LargestTensor(TorchDispatchMode):
    """Records the number of elements of the largest tensor an op returns."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        self.numel = max([self.numel, *(t.numel() for t in tensors)])
        return out


def largest_tensors_in_training(forward, x):
    """Elements of the largest tensor made in ``forward(x)``, and in its backward pass."""
    with LargestTensor() as in_forward:
        y = forward(x).sum()
    with LargestTensor() as in_backward:
        y.backward()
    return in_forward.numel, in_backward.numel


def test_training_makes_no_map_wider_than_twice_the_input_when_the_hidden_map_is_large():
    """The 4x-wide hidden map of a stream of HRFormer-S (batch 8 at 256x192: 12 MB) is made a
    group of channels at a time: twice the input's channels forward, as many as the input's in the
    replay of the backward pass. A small one is made whole."""
    ffn = make_ffn(channels=32, hidden=128).train()
    x = torch.randn(8, 32, 64, 48, requires_grad=True)
    assert largest_tensors_in_training(lambda x: ffn(x, make_layer_norm(32)), x) == \
        (2 * x.numel(), x.numel())
    small = x[:, :, :16].detach().requires_grad_()
    assert largest_tensors_in_training(lambda x: ffn(x, make_layer_norm(32)), small) == \
        (4 * small.numel(), 4 * small.numel())


def test_backward_replays_the_hidden_map_in_groups_of_at_most_4_mb():
    """HRFormer-T's first stream (batch 8 at 256x192): the 7 MB hidden map is made whole in the
    forward pass (under SPLIT_BYTES) and replayed in two groups of twice the input's channels
    (3.5 MB each, under BACKWARD_GROUP_BYTES)."""
    ffn = make_ffn(channels=18, hidden=72).train()
    x = torch.randn(8, 18, 64, 48, requires_grad=True)
    assert largest_tensors_in_training(lambda x: ffn(x, make_layer_norm(18)), x) == \
        (4 * x.numel(), 2 * x.numel())


@pytest.mark.parametrize('hidden', [32, 20])  # 2 groups of 16 channels; 16 + 4
def test_gradients_replayed_in_groups_of_several_times_the_input_equal_the_module_sequence(
        hidden, monkeypatch):
    """Backward groups of ``2 * C`` channels (:data:`BACKWARD_GROUP_BYTES` set to fit two maps
    of ``C``), in float64."""
    ours = make_ffn(hidden=hidden).double().train()
    reference = copy.deepcopy(ours)
    x = torch.randn(3, 8, 9, 7, dtype=torch.double, requires_grad=True)
    monkeypatch.setattr(channel_grouped_hidden, 'BACKWARD_GROUP_BYTES', 2 * x.numel() * 8)
    assert ChannelGroupedHiddenEnd(ours, x).backward_groups == [slice(0, 16), slice(16, hidden)]
    grad = torch.randn_like(x)
    got = torch.autograd.grad(ours(x), [x, *ours.parameters()], grad)
    want = torch.autograd.grad(one_by_one(reference, x), [x, *reference.parameters()], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_inference_makes_a_large_hidden_map_a_few_samples_at_a_time():
    """HRFormer-S's first stream at batch 8, 256x192: the 12 MB hidden map is made for 5 samples
    at a time (under SPLIT_BYTES, 8 MiB), and the outputs are those of the whole batch."""
    ffn, norm = make_ffn(channels=32, hidden=128).eval(), make_layer_norm(32)
    x = torch.randn(8, 32, 64, 48)
    with torch.no_grad(), LargestTensor() as largest:
        actual = ffn(x, norm)
    assert largest.numel == 5 * 4 * x[0].numel()
    with torch.no_grad():
        torch.testing.assert_close(actual, one_by_one(ffn, x, norm), rtol=1e-5, atol=1e-5)


def test_other_replayable_norms_take_the_chain_of_modules():
    """Norms that are not plain BatchNorms but keep no state (instance norm) are not cut into
    channel groups: the chain replays the modules, with the module sequence's results."""
    torch.manual_seed(0)
    ours = DepthwiseConvFFN(8, 32, norm_cfg=dict(type='IN')).double()
    assert not ChannelGroupedHiddenEnd.supports(ours)
    reference = copy.deepcopy(ours)
    x = torch.randn(2, 8, 6, 5, dtype=torch.double, requires_grad=True)
    actual, expected = ours(x), one_by_one(reference, x)
    torch.testing.assert_close(actual, expected)
    got = torch.autograd.grad(actual.sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(expected.sum(), [x, *reference.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    saved = saved_storage_bytes(lambda: ours(x), batch=2)
    assert saved == 2 * x.numel() * 8  # the FFN's input and fc2's output only


def test_traced_inference_runs_the_whole_batch_at_once(monkeypatch):
    """A tracer or compiler gets the FFN once over the batch (its graph plans its own buffers),
    where eager inference would make the hidden map a sample at a time."""
    monkeypatch.setattr(depthwise_conv_ffn, 'SPLIT_BYTES', 0)  # one sample per part in eager
    ffn, x = make_ffn().eval(), torch.randn(3, 8, 5, 4)
    with torch.no_grad():
        traced = torch.jit.trace(ffn, x)
        kinds = [node.kind() for node in traced.inlined_graph.nodes()]
        assert kinds.count('aten::_convolution') == 3 and 'aten::cat' not in kinds
        torch.testing.assert_close(traced(x), one_by_one(ffn, x), rtol=1e-5, atol=1e-5)
