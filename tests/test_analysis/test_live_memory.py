"""Live tensor bytes: counted as storages are created and freed, by hand-derived sums."""
import torch
from torch.utils.checkpoint import checkpoint

from mmhrformer.analysis.live_memory import LiveTensorBytes

M, N = 64, 32
FLOAT = 4  # bytes


def test_a_product_keeps_its_input_for_the_weights_gradient():
    """``loss = (x @ w).sum()``: autograd keeps x for w's gradient; the product goes once summed;
    the loss stays. w and a existed before: they do not count."""
    w = torch.randn(N, N, requires_grad=True)
    a = torch.randn(M, N)
    with LiveTensorBytes() as memory:
        x = a.exp()
        loss = (x @ w).sum()
        del x
        kept = memory.live
        loss.backward()
    assert kept == M * N * FLOAT + FLOAT
    assert memory.peak == 2 * M * N * FLOAT + FLOAT  # x and the product, before the sum
    del loss
    assert memory.live == N * N * FLOAT  # w's gradient


def _layer(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x.exp() @ w).relu()


def test_a_checkpoint_keeps_only_its_input():
    """Plain autograd keeps exp(x) (for the product) and the ReLU's output; a non-reentrant
    checkpoint keeps x alone, held by its saved-tensor hooks, not by ``save_for_backward``."""
    w = torch.randn(N, N, requires_grad=True)
    kept = {}
    for name, run in (('plain', _layer),
                      ('checkpoint', lambda x, w: checkpoint(_layer, x, w, use_reentrant=False))):
        with LiveTensorBytes() as memory:
            x = torch.randn(M, N)
            loss = run(x, w).sum()
            del x
            kept[name] = memory.live - FLOAT  # without the loss
            loss.backward()
    assert kept == {'plain': 2 * M * N * FLOAT, 'checkpoint': M * N * FLOAT}


def test_views_and_resized_storages_count_by_their_storage():
    with LiveTensorBytes() as memory:
        x = torch.zeros(1000)
        views = [x.view(10, 100), x[::2], x.t()]
        assert memory.live == 4000
        x.resize_(2000)
        assert memory.live == 8000
        del x, views
        assert memory.live == 0


def test_peak_is_the_most_alive_at_once_and_can_start_again():
    with LiveTensorBytes() as memory:
        a = torch.ones(1000)
        b = a * 2
        del a
        c = b * 2
        del b, c
        assert (memory.live, memory.peak) == (0, 8000)
        memory.reset_peak()
        d = torch.ones(10)
        assert memory.peak == 40
    del d
