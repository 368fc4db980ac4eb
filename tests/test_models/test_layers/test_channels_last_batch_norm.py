"""BatchNorm's backward pass on channels-last maps computed over folded rows: the gradients of
PyTorch's training-mode kernel, checked against a float64 reference."""
import pytest
import torch

from mmhrformer.models.layers.channels_last_batch_norm import (MIN_ROWS, batch_norm_backward,
                                                               rows_per_fold)


def channels_last_map(channels, height=32, width=24, batch=2, dtype=torch.float32):
    torch.manual_seed(channels)
    x = torch.randn(batch, channels, height, width, dtype=dtype) * 2 + 3
    return x.contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('channels,fold', [(78, 8), (18, 8), (36, 4), (156, 4), (3, 16),
                                           (72, 1), (64, 1), (312, 1)])
def test_rows_per_fold_makes_rows_of_whole_vectors_where_the_channels_leave_a_tail(channels,
                                                                                   fold):
    assert rows_per_fold(channels_last_map(channels)) == fold


def test_maps_the_plain_kernel_runs_as_well_are_not_folded():
    x = channels_last_map(78)
    assert rows_per_fold(x.contiguous()) == 1  # channels-first
    assert rows_per_fold(x.double()) == 1
    assert rows_per_fold(x.to('meta')) == 1  # the vector widths are the CPU's
    small = channels_last_map(78, height=8, width=6)
    assert small.numel() // small.shape[1] < MIN_ROWS and rows_per_fold(small) == 1
    odd_rows = channels_last_map(78, height=33, width=31, batch=1)
    assert rows_per_fold(odd_rows) == 1


def assert_close_to_reference(got, want):
    """float32 sums over 1536 pixels against float64: within 1e-5 of the largest value."""
    assert (got.double() - want).abs().max() <= 1e-5 * want.abs().max()


def reference_gradients(grad, x, weight, mean, invstd, mask):
    """PyTorch's kernel in float64, on the float32 inputs."""
    return torch.ops.aten.native_batch_norm_backward(
        grad.double(), x.double(), None if weight is None else weight.double(), None, None,
        mean.double(), invstd.double(), True, 1e-5, mask)


@pytest.mark.parametrize('channels', [78, 18, 156, 72])
@pytest.mark.parametrize('affine', [True, False])
def test_gradients_equal_pytorchs_training_batch_norm(channels, affine):
    x = channels_last_map(channels)
    grad = torch.randn_like(x)
    weight = torch.rand(channels) + 0.5 if affine else None
    _, mean, invstd = torch.native_batch_norm(x, weight, None, None, None, True, 0., 1e-5)
    mask = [True, affine, affine]
    got = batch_norm_backward(grad, x, weight, mean, invstd, 1e-5, mask)
    want = reference_gradients(grad, x, weight, mean, invstd, mask)
    assert got[0].is_contiguous(memory_format=torch.channels_last)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            assert_close_to_reference(g, w)


def test_only_the_gradients_asked_for_are_returned():
    x = channels_last_map(78)
    grad, weight = torch.randn_like(x), torch.rand(78)
    _, mean, invstd = torch.native_batch_norm(x, weight, None, None, None, True, 0., 1e-5)
    grad_x, grad_weight, grad_bias = batch_norm_backward(grad, x, weight, mean, invstd, 1e-5,
                                                         [False, True, False])
    assert grad_x is None and grad_bias is None
    want = reference_gradients(grad, x, weight, mean, invstd, [False, True, False])[1]
    assert_close_to_reference(grad_weight, want)
