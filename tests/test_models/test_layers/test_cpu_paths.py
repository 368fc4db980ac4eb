"""What the model does only on the CPU (mmhrformer.models.layers.cpu_paths): the same values as
the default path, and taken exactly where the module says."""
import torch
import torch.nn.functional as F

from mmhrformer.analysis.dispatch_counts import AtenOpCounter
from mmhrformer.models.backbones import HRFormer
from mmhrformer.models.layers.cpu_paths import channels_last_on_cpu, scaled_dot_product_attention


def _attention_inputs(requires_grad: bool):
    torch.manual_seed(0)
    shapes = [(6, 2, 9, 8)] * 3 + [(1, 2, 9, 9)]
    return [torch.randn(shape, dtype=torch.float64, requires_grad=requires_grad)
            for shape in shapes]


def test_written_out_attention_has_the_outputs_and_gradients_of_torchs():
    """float64, the bias broadcast over the windows as the block passes it."""
    inputs = _attention_inputs(requires_grad=True)
    actual = scaled_dot_product_attention(*inputs)
    expected = F.scaled_dot_product_attention(*inputs[:3], attn_mask=inputs[3])
    torch.testing.assert_close(actual, expected)
    grad = torch.randn_like(actual)
    for got, want in zip(torch.autograd.grad(actual, inputs, grad),
                         torch.autograd.grad(expected, inputs, grad)):
        torch.testing.assert_close(got, want)


def test_attention_is_written_out_only_where_the_bias_needs_a_gradient_in_float32_or_64():
    def ops(requires_grad: bool, grad_enabled: bool, dtype=torch.float64):
        inputs = [t.detach().to(dtype).requires_grad_(requires_grad)
                  for t in _attention_inputs(False)]
        with torch.set_grad_enabled(grad_enabled), AtenOpCounter() as counter:
            scaled_dot_product_attention(*inputs)
        return {op.overloadpacket.__name__ for op in counter.ops}

    for dtype in (torch.float32, torch.float64):
        training = ops(requires_grad=True, grad_enabled=True, dtype=dtype)
        assert '_softmax' in training and '_safe_softmax' not in training
    for inference in (ops(requires_grad=True, grad_enabled=False),
                      ops(requires_grad=False, grad_enabled=True)):
        assert '_softmax' not in inference, inference  # torch's attention kernel
    # in half precision torch's fallback, which computes in float32
    assert '_safe_softmax' in ops(requires_grad=True, grad_enabled=True, dtype=torch.float16)


def test_backbone_keeps_its_maps_channels_last_on_the_cpu():
    image = torch.randn(1, 3, 64, 48)
    assert channels_last_on_cpu(image).is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(channels_last_on_cpu(image), image, rtol=0, atol=0)
    model = HRFormer('tiny').eval()
    with torch.no_grad():
        outputs = model(image)
        for stream, out in enumerate(outputs):
            assert out.is_contiguous(memory_format=torch.channels_last), stream
        # the same maps from convolutions in the default layout, every module's own
        model.stem.register_forward_pre_hook(lambda _, args: args[0].contiguous())
        for out, default in zip(outputs, model(image)):
            assert default.is_contiguous() and not default.is_contiguous(
                memory_format=torch.channels_last)
            torch.testing.assert_close(out, default, rtol=1e-4, atol=1e-4)
