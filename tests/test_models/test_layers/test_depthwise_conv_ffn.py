"""The FFN's training path (recomputed chain) and inference path (folded norms) against running
its modules one after the other."""
import copy

import pytest
import torch

from mmhrformer.models.layers import DepthwiseConvFFN


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


@pytest.mark.parametrize('with_pre_norm', [False, True])
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_outputs_gradients_and_statistics_equal_the_module_sequence(mode, with_pre_norm):
    torch.manual_seed(1)
    pre_norm = make_layer_norm() if with_pre_norm else None
    ours = make_ffn().train(mode == 'train')
    reference = copy.deepcopy(ours)
    x = torch.randn(3, 8, 9, 7, requires_grad=True)
    grad = torch.randn(3, 8, 9, 7)
    actual = ours(x, pre_norm)
    expected = one_by_one(reference, x, pre_norm)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    norm_params = [] if pre_norm is None else list(pre_norm.parameters())
    got = torch.autograd.grad(actual, [x, *norm_params, *ours.parameters()], grad)
    want = torch.autograd.grad(expected, [x, *norm_params, *reference.parameters()], grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dict(ours.named_buffers()), dict(reference.named_buffers()))


def test_training_path_is_bitwise_the_module_sequence():
    """Same kernels on the same inputs: not merely close, with the block's layer norm too."""
    ours = make_ffn().train()
    reference = copy.deepcopy(ours)
    pre_norm = make_layer_norm()
    x = torch.randn(2, 8, 10, 6, requires_grad=True)
    got = torch.autograd.grad(ours(x, pre_norm).square().sum(),
                              [x, *pre_norm.parameters(), *ours.parameters()])
    want = torch.autograd.grad(one_by_one(reference, x, pre_norm).square().sum(),
                               [x, *pre_norm.parameters(), *reference.parameters()])
    assert all(torch.equal(g, w) for g, w in zip(got, want))


def test_training_under_bf16_autocast_matches_the_module_sequence():
    ours = make_ffn().train()
    reference = copy.deepcopy(ours)
    x = torch.randn(2, 8, 10, 6, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        actual, expected = ours(x), one_by_one(reference, x)
    assert actual.dtype == torch.bfloat16
    assert torch.equal(actual, expected)
    got = torch.autograd.grad(actual.float().sum(), [x, *ours.parameters()])
    want = torch.autograd.grad(expected.float().sum(), [x, *reference.parameters()])
    assert all(torch.equal(g, w) and g.dtype == w.dtype for g, w in zip(got, want))


def test_training_keeps_the_ffn_input_and_the_last_convolution_output_only():
    """Not the normalised input, nor the hidden maps."""
    ffn = make_ffn(channels=8, hidden=32).train()
    x = torch.randn(2, 8, 10, 6, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        ffn(x, make_layer_norm())
    maps = {t.untyped_storage().data_ptr(): t.numel() for t in saved if t.dim() == 4
            and t.shape[0] == 2}
    assert sum(maps.values()) == 2 * x.numel()  # not the 4x-wide hidden maps


def test_sync_batch_norm_falls_back_to_the_module_sequence():
    ffn = DepthwiseConvFFN(8, 32, norm_cfg=dict(type='SyncBN'))
    from mmhrformer.models.layers.recomputed_chain import can_recompute
    assert not can_recompute(list(ffn))
