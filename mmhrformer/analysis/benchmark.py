"""The benchmark: pose models built from their configs, measured side by side in one process.

For each model (:mod:`.benchmark_models`), on one synthetic batch:

1. device-agnostic figures of the training step as the Runner runs it,
   ``model.train_step(batch, optim_wrapper)`` (data preprocessor, backbone, head, loss, backward,
   AdamW), after one step that creates the optimizer's state (:mod:`.step_figures`), and the aten
   ops of one inference (the network's forward pass, ``mode='tensor'``, eval mode, no gradients);
2. times, the models taking turns (:mod:`.timing`): inference, inference with every BatchNorm
   folded into the convolution before it (mmcv's ``fuse_conv_bn``, what a deployment does; the
   folded model's outputs are checked against the model's), optionally inference through
   ``torch.compile`` (inductor, default settings), and the training step;
3. on a GPU also the step's peak as ``torch.cuda.max_memory_allocated`` gives it, the GPU
   activities (kernels) the profiler records in a step, and the training
   step with mmengine's ``AmpOptimWrapper`` in fp16 and in bf16 (time and peak).
"""
import copy
import sys
from functools import partial
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn
from mmengine.optim import OptimWrapper

from .benchmark_models import PoseModel, Size, build_pose_model, synthetic_batch
from .step_figures import count_ops, cuda_kernels, cuda_peak_bytes, training_step_figures
from .timing import median_seconds

#: Mixed precisions timed on a GPU: name in the report -> ``AmpOptimWrapper``'s dtype.
AMP_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


def _inference(model: nn.Module, inputs: torch.Tensor) -> Callable[[], Any]:
    """The network's forward pass on preprocessed ``inputs``, without gradients."""
    def forward():
        with torch.no_grad():
            return model(inputs, None, mode='tensor')
    return forward


def _folded(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """A copy of ``model`` (in eval mode) with each BatchNorm folded into the convolution before
    it; raises if its outputs for ``inputs`` are not the model's up to rounding."""
    folded = fuse_conv_bn(copy.deepcopy(model))
    expected, got = _inference(model, inputs)(), _inference(folded, inputs)()
    scale = float(expected.abs().max())
    if not torch.allclose(got, expected, rtol=1e-3, atol=1e-4 * scale):
        raise RuntimeError(f'{type(model).__name__} with its BatchNorms folded differs from the '
                           f'model by {float((got - expected).abs().max()):.3g} (outputs up to '
                           f'{scale:.3g}): a norm was folded into a convolution it does not follow')
    return folded


def _train_steps(models: Dict[str, PoseModel], batches: Dict[str, dict],
                 amp_dtype: Optional[str] = None
                 ) -> Dict[str, Tuple[Callable[[], Any], OptimWrapper]]:
    """Per model, a training step and the optimizer wrapper (built now) that it updates."""
    steps = {}
    for name, pose in models.items():
        pose.model.train()
        wrapper = pose.optim_wrapper(amp_dtype)
        steps[name] = (partial(pose.model.train_step, batches[name], wrapper), wrapper)
    return steps


def _progress(message: str) -> None:
    print(f'benchmark: {message}', file=sys.stderr, flush=True)


def _record(results: Dict[str, dict], key: str, values: Dict[str, float]) -> None:
    for name, value in values.items():
        results[name][key] = value


def run_benchmark(names: Sequence[str], size: Size = (256, 192), batch: int = 8,
                  device: str = 'cpu', warmup: int = 1, repeats: int = 5,
                  compile: bool = False) -> Dict[str, Dict[str, float]]:
    """Measures the models ``names``; returns ``{name: {figure: value}}`` with the figures
    ``params`` (of the backbone), ``kept_bytes``, ``peak_bytes``, ``flops``, ``ops`` (not
    views), ``view_ops``, ``update_ops`` and ``model_ops`` (training step: the optimizer's
    update and the rest), ``inference_ops``, ``inference_view_ops``, ``folded_inference_ops``,
    ``inference_s``, ``folded_inference_s``, ``train_step_s``; with ``compile`` also
    ``compiled_inference_s``; on a GPU also ``cuda_peak_bytes``, ``cuda_kernels`` (per training
    step) and, per precision of :data:`AMP_DTYPES`, ``{precision}_train_step_s`` and
    ``{precision}_peak_bytes``.
    """
    _progress(f'building {", ".join(names)}')
    models = {name: build_pose_model(name, device) for name in names}
    batches = {name: synthetic_batch(batch, size, pose.num_keypoints, device)
               for name, pose in models.items()}
    results = {name: dict(params=sum(p.numel() for p in pose.model.backbone.parameters()))
               for name, pose in models.items()}

    steps = _train_steps(models, batches)
    for name, (step, wrapper) in steps.items():
        _progress(f'training step figures of {name}')
        step()  # creates the optimizer's state
        figures = training_step_figures(step, wrapper)
        results[name].update(figures._asdict(), model_ops=figures.ops - figures.update_ops)
        if device == 'cuda':
            results[name].update(cuda_peak_bytes=cuda_peak_bytes(step),
                                 cuda_kernels=cuda_kernels(step))
    _progress('timing the training steps')
    _record(results, 'train_step_s', median_seconds(
        {name: step for name, (step, _) in steps.items()}, warmup, repeats, device))
    del steps

    inputs, inferences, folded = {}, {}, {}
    for name, pose in models.items():
        pose.model.eval()
        with torch.no_grad():
            inputs[name] = pose.model.data_preprocessor(batches[name], False)['inputs']
        inferences[name] = _inference(pose.model, inputs[name])
        folded[name] = _inference(_folded(pose.model, inputs[name]), inputs[name])
        ops = count_ops(inferences[name])
        results[name].update(inference_ops=ops.non_views, inference_view_ops=ops.views,
                             folded_inference_ops=count_ops(folded[name]).non_views)
    _progress('timing inference, as built and folded')
    steps = {**{(name, 'inference_s'): step for name, step in inferences.items()},
             **{(name, 'folded_inference_s'): step for name, step in folded.items()}}
    for (name, key), seconds in median_seconds(steps, warmup, repeats, device).items():
        results[name][key] = seconds
    del steps, folded
    if compile:  # the first run compiles: at least one warm-up
        _progress('compiling and timing inference')
        compiled = {name: _inference(torch.compile(pose.model), inputs[name])
                    for name, pose in models.items()}
        _record(results, 'compiled_inference_s',
                median_seconds(compiled, max(warmup, 1), repeats, device))

    if device == 'cuda':
        for precision, dtype in AMP_DTYPES.items():
            _progress(f'timing {precision} training steps')
            steps = _train_steps(models, batches, dtype)
            _record(results, f'{precision}_train_step_s', median_seconds(
                {name: step for name, (step, _) in steps.items()}, warmup, repeats, device))
            for name, (step, _) in steps.items():
                results[name][f'{precision}_peak_bytes'] = cuda_peak_bytes(step)
            del steps
    return results
