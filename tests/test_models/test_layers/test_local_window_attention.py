from functools import partial

import torch

from mmhrformer.models.layers import LocalWindowAttention
from mmhrformer.models.layers.local_window_attention import relative_position_index
from mmhrformer.models.layers.recomputed_chain import RecomputedChain
from mmhrformer.models.layers.window_attention_function import WindowAttentionEnd
from mmhrformer.models.layers.windows import partition_windows


def reference_window_attention(attn, windows):
    """Explicit softmax(q k^T * scale + bias) v, to check the fused kernel against."""
    n, length, channels = windows.shape
    qkv = attn.qkv(windows).view(n, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv
    logits = query @ key.transpose(-2, -1) * (channels // attn.num_heads)**-0.5
    logits = logits + attn.position_bias()
    out = (logits.softmax(-1) @ value).transpose(1, 2).reshape(n, length, channels)
    return attn.proj(out)


def test_relative_position_index_pairs_equal_offsets_with_equal_entries():
    index = relative_position_index((3, 4))
    assert index.shape == (12, 12)
    assert index.min() == 0 and index.max() == 5 * 7 - 1
    # (row 0, col 0) vs (row 1, col 2) and (row 1, col 1) vs (row 2, col 3): same offset
    assert index[0, 6] == index[5, 11]
    assert index[0, 0] == (3 - 1) * 7 + (4 - 1)


def test_fused_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    attn = LocalWindowAttention(16, num_heads=2, window_size=3).eval()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.)
    windows = torch.randn(5, 9, 16)
    torch.testing.assert_close(attn.attend(windows), reference_window_attention(attn, windows))


def test_relative_position_index_is_not_saved():
    attn = LocalWindowAttention(8, num_heads=2, window_size=7)
    assert 'relative_position_index' not in attn.state_dict()
    assert 'relative_position_bias_table' in attn.state_dict()


class Attend(torch.nn.Module):
    """``attn.attend`` as a module's forward pass, for tracing."""

    def __init__(self, attn):
        super().__init__()
        self.attn = attn

    def forward(self, windows):
        return self.attn.attend(windows)


def test_traced_attention_takes_all_windows_at_once(split):
    """A tracer or compiler gets one attention over all windows (its graph plans its own
    buffers), where eager mode would take large inputs a chunk of windows at a time."""
    torch.manual_seed(0)
    attn = LocalWindowAttention(16, num_heads=2, window_size=3).eval()
    windows = torch.randn(5, 9, 16)
    with torch.no_grad():
        traced = torch.jit.trace(Attend(attn), windows)
        kinds = [node.kind() for node in traced.inlined_graph.nodes()]
        assert kinds.count('aten::scaled_dot_product_attention') == 1
        torch.testing.assert_close(traced(windows), reference_window_attention(attn, windows),
                                   rtol=1e-5, atol=1e-6)


def training_attention():
    """An attention layer in training mode with a non-trivial bias, windows that need a gradient,
    every tensor a gradient is taken for, and the output's gradient."""
    torch.manual_seed(0)
    attn = LocalWindowAttention(16, num_heads=2, window_size=3).train()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.)
    windows = torch.randn(5, 9, 16, requires_grad=True)
    return attn, windows, [windows, *attn.parameters()], torch.randn(5, 9, 16)


def test_training_attention_gradients_match_explicit_softmax(split):
    """The recomputing backward pass gives autograd's gradients of the explicit formula."""
    attn, windows, inputs, grad = training_attention()
    actual = torch.autograd.grad(attn.attend(windows), inputs, grad)
    expected = torch.autograd.grad(reference_window_attention(attn, windows), inputs, grad)
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_attention_chain_passes_gradcheck(split):
    """Layer norm -> windows -> attention, replayed in the backward pass: gradients of the map,
    the norm's parameters, the projections and the bias equal finite differences."""
    torch.manual_seed(0)

    def double(*shape):
        return torch.randn(*shape, dtype=torch.double, requires_grad=True)

    norm = torch.nn.LayerNorm(4).double()
    torch.nn.init.normal_(norm.weight)
    make_windows = (norm, partial(partition_windows, window_size=(2, 2)))
    x, qkv_weight, qkv_bias = double(2, 3, 4, 4), double(12, 4), double(12)
    bias, proj_weight, proj_bias = double(2, 4, 4), double(5, 4), double(5)

    def attention(x, norm_weight, norm_bias, *tensors):
        end = WindowAttentionEnd(torch.nn.Linear(4, 12), 2, None, torch.nn.Linear(4, 5))
        return RecomputedChain.apply(x, make_windows, end, norm_weight, norm_bias, *tensors)

    assert torch.autograd.gradcheck(attention, (x, norm.weight, norm.bias, qkv_weight, qkv_bias,
                                                bias, proj_weight, proj_bias))
    assert torch.autograd.gradcheck(
        lambda x, qkv_weight, proj_weight: attention(x, norm.weight, norm.bias, qkv_weight, None,
                                                     None, proj_weight, None),
        (x, qkv_weight, proj_weight))


def saved_storage_bytes(fn, batch):
    """Bytes of the distinct storages that ``fn()`` saves for backward among tensors whose first
    dimension is ``batch`` (activations, not weights or the bias)."""
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        fn()
    return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in saved
                if t.shape[0] == batch}.values())


def test_training_keeps_only_the_input_map():
    """With its layer norm, on a map that needs padding: only the map is kept, not the normalised
    tokens nor the padded windows."""
    attn = LocalWindowAttention(8, num_heads=4, window_size=7).train()
    norm = torch.nn.LayerNorm(8)
    x = torch.randn(2, 9, 10, 8, requires_grad=True)
    assert saved_storage_bytes(lambda: attn(x, norm), batch=2) == x.numel() * 4


def test_training_keeps_only_the_input_windows():
    """Saved for backward per window: the input windows alone; no packed query/key/value, no
    ``heads x L x L`` weights, no attention output."""
    attn = LocalWindowAttention(8, num_heads=4, window_size=7).train()
    windows = torch.randn(6, 49, 8, requires_grad=True)
    assert saved_storage_bytes(lambda: attn.attend(windows), batch=6) == windows.numel() * 4


def test_autocast_training_gradients_match_the_module_sequence():
    """Under bf16 autocast the backward pass recomputes in bf16, as the forward pass ran: the
    gradients equal those of the plain modules run under autocast."""
    attn, windows, inputs, grad = training_attention()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        actual_out = attn.attend(windows)
        expected_out = reference_window_attention(attn, windows)
    assert actual_out.dtype == expected_out.dtype == torch.bfloat16
    actual = torch.autograd.grad(actual_out, inputs, grad)
    expected = torch.autograd.grad(expected_out, inputs, grad)
    for got, want in zip(actual, expected):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=0.05, atol=0.05)
