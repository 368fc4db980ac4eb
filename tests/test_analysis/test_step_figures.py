"""The figures of a training step, on a module small enough to derive them by hand."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

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
    # forward: exp, mm, sum, the wrapper's loss scaling (div); backward: ones_like, div, expand,
    # t, mm, detach (the gradient stored); SGD's add_. Views: expand, t, detach.
    assert (figures.ops, figures.view_ops) == (11, 3)
    assert model.w.grad is None  # the wrapper let the gradient go: nothing left over


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
    assert (ops.total, ops.views) == (2, 0)
