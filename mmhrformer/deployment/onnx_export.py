"""Export of a toolbox model with HRFormer to ONNX, with dynamic batch, height and width.

The exported graph is the model's ``mode='tensor'`` forward pass: it takes the images as the
model's data preprocessor hands them over (``B x 3 x H x W``, float, normalised, in the channel
order of the config) and returns what the head computes before any post-processing: pose
heatmaps ``B x K x H/4 x W/4``, segmentation logits ``B x classes x H/4 x W/4``, classification
logits ``B x classes``.

Why PyTorch's TorchScript-based exporter (``dynamo=False``) and not the default ``torch.export``
one: the window attention pads each map to a multiple of the window, and the number of windows
and the padding are integer functions of the height and width. ``torch.export`` reasons about
them symbolically and must prove every branch and view for all sizes (``pad // 2 != 0``,
``windows != 1``, ...); it cannot, so the height and width become fixed. The TorchScript
exporter records the shape arithmetic as ONNX ops instead, so one graph serves every size, as
long as the example it traces goes through the padding in every attention
(:func:`check_example_pads_every_window`).
"""
from pathlib import Path
from typing import Dict, List, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from mmhrformer.models.layers import LocalWindowAttention

OPSET = 17
DYNAMIC_AXES = {'input': {0: 'batch', 2: 'height', 3: 'width'}, 'output': {0: 'batch'}}


class TensorForward(nn.Module):
    """``model(inputs, None, mode='tensor')`` as a one-tensor forward, for the exporter."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Args: inputs: ``B x C x H x W``. Returns: the head's output (see module doc)."""
        return self.model(inputs, None, mode='tensor')


def window_map_sizes(model: nn.Module, inputs: torch.Tensor) -> Dict[str, List[Tuple[int, int]]]:
    """The ``(H, W)`` of every map that each window attention of ``model`` sees for ``inputs``."""
    sizes = {}

    def record(name):
        return lambda module, args: sizes.setdefault(name, []).append(tuple(args[0].shape[1:3]))

    hooks = [module.register_forward_pre_hook(record(name))
             for name, module in model.named_modules() if isinstance(module, LocalWindowAttention)]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes


def check_example_pads_every_window(model: nn.Module, inputs: torch.Tensor) -> None:
    """Refuses an example on which some window attention sees a map that is a multiple of its
    window in both height and width: the trace would skip its padding for every size."""
    windows = {name: module.window_size for name, module in model.named_modules()
               if isinstance(module, LocalWindowAttention)}
    for name, sizes in window_map_sizes(model, inputs).items():
        win_h, win_w = windows[name]
        for height, width in sizes:
            if height % win_h == 0 and width % win_w == 0:
                raise ValueError(
                    f'example input of size {tuple(inputs.shape[2:])}: {name} sees a {height} x '
                    f'{width} map, a multiple of its {win_h} x {win_w} window, so the traced graph '
                    'would never pad; choose an example size whose maps at strides 4 to 32 are '
                    'not multiples of the windows (64 x 64 is, for windows of 7, 13 and 15)')


def export_onnx(model: nn.Module, out: Union[str, Path], example_size: Tuple[int, int] = (64, 64),
                in_channels: int = 3, opset: int = OPSET) -> Path:
    """Writes ``model``'s ``mode='tensor'`` forward pass to ``out`` as ONNX, one input
    ``'input'`` (``B x in_channels x H x W``, every one of B, H, W dynamic) and one output
    ``'output'`` (batch dynamic), traced on one random image of ``example_size``."""
    if model.training:
        raise ValueError('export_onnx takes a model in evaluation mode (model.eval()): in '
                         'training mode BatchNorm and drop path would be traced as in training')
    wrapper = TensorForward(model).eval()
    example = torch.randn(1, in_channels, *example_size)
    check_example_pads_every_window(wrapper, example)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(wrapper, (example,), str(out), dynamo=False, opset_version=opset,
                          input_names=['input'], output_names=['output'],
                          dynamic_axes=DYNAMIC_AXES)
    return out


def onnxruntime_outputs(path: Union[str, Path], inputs: torch.Tensor) -> np.ndarray:
    """The output of the ONNX file at ``path`` for ``inputs``, computed by ONNX Runtime's CPU
    provider."""
    import onnxruntime
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return session.run(None, {'input': inputs.numpy()})[0]


def relative_difference(model: nn.Module, path: Union[str, Path], inputs: torch.Tensor) -> float:
    """``max |onnx - torch| / max |torch|`` over the outputs of ``model`` (``mode='tensor'``)
    and of its export at ``path``, for the same ``inputs``."""
    with torch.no_grad():
        expected = TensorForward(model)(inputs).numpy()
    got = onnxruntime_outputs(path, inputs)
    if got.shape != expected.shape:
        raise ValueError(f'ONNX output shape {got.shape} differs from PyTorch\'s '
                         f'{expected.shape} for inputs of shape {tuple(inputs.shape)}')
    return float(np.abs(got - expected).max() / np.abs(expected).max())
