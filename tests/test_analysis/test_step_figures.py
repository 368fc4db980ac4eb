"""The figures of a training step, on a module small enough to derive them by hand."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from torch.utils.checkpoint import checkpoint

from mmhrformer.analysis.live_memory import LiveTensorBytes
from mmhrformer.analysis.step_figures import count_ops, training_step_figures

M, N, FLOAT = 64, 32, 4


class ExpProduct(nn.Module):
    """``exp(x) @ w``: the product keeps exp(x) for w's gradient."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(N, N))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.exp() @ self.w


def test_training_step_figures_of_a_known_step():
    model, x = ExpProduct(), torch.randn(M, N)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))

    def step():
        wrapper.update_params(model(x).sum())
    step()  # (a step before, as the benchmark does)
    figures = training_step_figures(step, wrapper)
    assert figures.kept_bytes == M * N * FLOAT + FLOAT  # exp(x) and the loss
    assert figures.peak_bytes == 2 * M * N * FLOAT + FLOAT  # and the product, before the sum
    assert figures.flops == 2 * (2 * M * N * N)  # the product and w's gradient
    # forward: exp, mm, sum, the wrapper's loss scaling (div); backward: ones_like, div, mm; SGD's
    # add_. Views: expand, t (in the backward pass) and detach (the gradient stored).
    assert (figures.ops, figures.view_ops) == (8, 3)
    assert figures.update_ops == 1  # SGD's add_
    assert model.w.grad is None  # the wrapper let the gradient go: nothing left over


class CheckpointedBlock(nn.Module):
    """``x + fc2(relu(fc1(x)))``, the branch recomputed in the backward pass."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(N, 4 * N), nn.Linear(4 * N, N)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + checkpoint(lambda y: self.fc2(self.fc1(y).relu()), x, use_reentrant=False)


def test_flop_counting_does_not_raise_the_peak_of_a_checkpointed_step():
    """The FLOP counter's module hooks keep recomputed tensors alive: it must not run while the
    bytes are counted."""
    model, x = nn.Sequential(*[CheckpointedBlock() for _ in range(4)]), torch.randn(M, N)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))

    def step():
        wrapper.update_params(model(x).sum())
    step()
    with LiveTensorBytes() as alone:
        step()
    figures = training_step_figures(step, wrapper)
    assert figures.peak_bytes == alone.peak
    # Per block: fc1 and fc2 forward; in the backward pass fc1 again (the checkpoint stops once
    # it has fc2's input) and the weight and input gradients of both; but x needs no gradient.
    product = 2 * M * N * 4 * N
    assert figures.flops == (4 * (2 + 1 + 4) - 1) * product


def test_a_step_that_never_reaches_the_wrapper_is_refused():
    model = ExpProduct()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match='never called optim_wrapper.backward'):
        training_step_figures(lambda: model(torch.randn(2, N)).sum().backward(), wrapper)
    assert 'backward' not in vars(wrapper)  # the wrapper's own method again


def test_inference_ops():
    model, x = ExpProduct(), torch.randn(M, N)
    with torch.no_grad():
        ops = count_ops(lambda: model(x))
    assert (ops.non_views, ops.views) == (2, 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='counts GPU kernels: needs a GPU')
def test_cuda_kernels_counts_each_kernel_of_a_step():
    from mmhrformer.analysis.step_figures import cuda_kernels
    x = torch.randn(64, 64, device='cuda')
    assert cuda_kernels(lambda: x.neg().exp().abs()) == 3  # one element-wise kernel each
