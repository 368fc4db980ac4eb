"""BatchNorm's backward pass on a channels-last map whose channels do not fill whole CPU vectors.

A channels-last ``B x C x H x W`` map is, in memory, ``B * H * W`` rows of ``C`` channels.
PyTorch's CPU kernel for the training BatchNorm's backward pass reduces those rows to two sums per
channel and then computes the input gradient, a row at a time, in vectors of 16 floats (AVX-512),
and the channels left over, one by one: at HRFormer-B's 78 channels (HRFormer-T's 18) it took
2.9 ms (2.6 ms) on a batch-8 map at 64 x 48, against 0.5 ms (0.13 ms) for the same sums on the
map stored channels-first (torch 2.14, 2 cores, measured). :func:`batch_norm_backward` views
``fold`` consecutive rows as one row of ``fold * C`` channels, a whole number of vectors, and
computes the same gradients with kernels that only see channels: the sums with the evaluation-mode
BatchNorm's backward kernel (one pass), the input gradient with two element-wise passes: 1.2-1.4
ms at 78 channels, 0.4 ms at 18 (measured as above; in HRFormer-B's training step, 2.0 ms against
3.0 ms). Where the channels fill at least half vectors, the plain kernel is as fast, and it runs.
"""
import math
from typing import List, Optional

import torch

#: Floats in one AVX-512 vector, the width PyTorch's CPU BatchNorm kernels step through channels.
VECTOR_FLOATS = 16
#: Below this many rows the plain kernel's cost per row is less than the few small ops on the
#: channels that the folded computation adds (measured: ahead from 1536 rows, behind at 384).
MIN_ROWS = 1024


def rows_per_fold(x: torch.Tensor) -> int:
    """How many rows (pixels) of the channels-last float32 CPU map ``x`` (``B x C x H x W``) to view
    as one so that a row holds whole vectors: 4, 8 or 16 where the channels are not a multiple of 8,
    the rows at least :data:`MIN_ROWS` and a multiple of the fold, else 1 (run PyTorch's kernel)."""
    if (x.dim() != 4 or x.dtype != torch.float32 or x.device.type != 'cpu'
            or not x.is_contiguous(memory_format=torch.channels_last) or x.is_contiguous()):
        return 1
    fold, rows = VECTOR_FLOATS // math.gcd(x.shape[1], VECTOR_FLOATS), x.numel() // x.shape[1]
    return fold if fold >= 4 and rows >= MIN_ROWS and rows % fold == 0 else 1


def _folded_rows(x: torch.Tensor, fold: int) -> torch.Tensor:
    """``B x C x H x W`` channels-last -> ``(B * H * W / fold) x (fold * C)``, a view."""
    return x.permute(0, 2, 3, 1).reshape(-1, fold * x.shape[1])


def batch_norm_backward(grad_out: torch.Tensor, x: torch.Tensor, weight: Optional[torch.Tensor],
                        mean: torch.Tensor, invstd: torch.Tensor, eps: float,
                        mask: List[bool]) -> List[Optional[torch.Tensor]]:
    """``torch.ops.aten.native_batch_norm_backward`` in training mode with the batch statistics
    ``mean`` and ``invstd`` (``C``) of ``x`` (``B x C x H x W``): the gradients of the input, the
    weight and the bias (None where ``mask`` is False), equal up to rounding."""
    fold = rows_per_fold(x)
    if fold == 1 or not grad_out.is_contiguous(memory_format=torch.channels_last):
        return list(torch.ops.aten.native_batch_norm_backward(
            grad_out, x, weight, None, None, mean, invstd, True, eps, mask))
    channels, pixels = x.shape[1], x.numel() // x.shape[1]
    grad_rows, x_rows = _folded_rows(grad_out, fold), _folded_rows(x, fold)
    ones, folded_mean = x.new_ones(fold * channels), mean.repeat(fold)
    # Evaluation mode with mean ``mean`` and variance 1 (eps 0): per channel of the folded rows,
    # sum(grad * (x - mean)) as the weight's gradient and sum(grad) as the bias's.
    _, centred_sums, grad_sums = torch.ops.aten.native_batch_norm_backward(
        grad_rows, x_rows, ones, folded_mean, ones, None, None, False, 0., [False, True, True])
    centred_sum, grad_sum = torch.stack([centred_sums, grad_sums]).view(2, fold, channels).sum(1)
    grad_x = None
    if mask[0]:
        # grad_x = k * (grad - grad_sum / N - (x - mean) * invstd^2 * centred_sum / N), k the scale
        scale = invstd if weight is None else invstd * weight
        coefficients = torch.stack([-scale * invstd * invstd * centred_sum, -scale * grad_sum])
        x_coefficient, shift = coefficients.div_(pixels).repeat(1, fold)
        # (x - mean) * x_coefficient + shift in one pass, as the evaluation-mode BatchNorm
        grad_x_rows = torch.native_batch_norm(x_rows, x_coefficient, shift, folded_mean, ones,
                                              False, 0., 0.)[0]
        grad_x = grad_x_rows.addcmul_(grad_rows, scale.repeat(fold)).view(
            x.shape[0], x.shape[2], x.shape[3], channels).permute(0, 3, 1, 2)
    grad_weight = centred_sum * invstd if mask[1] and weight is not None else None
    return [grad_x, grad_weight, grad_sum if mask[2] else None]
