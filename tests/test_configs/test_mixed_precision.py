"""Mixed precision through the toolboxes' Runners.

Every config of ours trains with mmengine's ``AmpOptimWrapper``, as the official trainers trained
in mixed precision, and AdamW's fused update (which takes AMP's loss scale as it is). Here one
config per toolbox trains three iterations with that wrapper in bfloat16 on the CPU: the Runner's
wrapper casts to bfloat16, the backbone's outputs in training are bfloat16 (autocast is on around
the forward pass), and every loss is finite.

mmengine's ``AmpOptimWrapper`` refuses to be built without a GPU, by one assert on the device;
its autocast context takes the CPU (CPU autocast casts to bfloat16 only) and its loss scaler,
which bfloat16 does not need, turns itself off there. The test lifts that one check and nothing
else. Parts of the toolboxes take no bfloat16 on the CPU: mmpose's training accuracy goes through
numpy (off for mmpose), and the CPU kernels of mmcv's NMS and RoIAlign, which mmdet's two-stage
detectors call, take float32 only (here they run on float32 copies of their inputs; on a GPU
mmcv's kernels take float16, the configs' type).
"""
import math
import sys
from copy import deepcopy

import mmcv.ops  # noqa: F401  (imports the modules patched below)
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper

from . import test_mmdet_configs, test_mmpose_configs, test_mmpretrain_configs, test_mmseg_configs
from .conftest import CONFIGS, configs_of, fit_schedule, train_then_validate

ITERATIONS = 3
TOOLBOXES = ('mmpretrain', 'mmpose', 'mmseg', 'mmdet')


@pytest.mark.parametrize('path', [f'{toolbox}/{name}' for toolbox in TOOLBOXES
                                  for name in configs_of(toolbox)])
def test_every_config_trains_in_mixed_precision_with_fused_adamw(path):
    wrapper = Config.fromfile(CONFIGS / path).optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.get('loss_scale') == 'dynamic'
    assert wrapper.get('dtype') is None  # float16 on a GPU, as the official trainers
    assert wrapper.optimizer.type == 'AdamW' and wrapper.optimizer.get('fused') is True


def bfloat16_amp(cfg: Config) -> None:
    cfg.optim_wrapper.dtype = 'bfloat16'


class BackboneOutputDtypes(Hook):
    """Records the dtypes of the backbone's outputs in each training forward pass."""

    def before_train(self, runner):
        self.dtypes = set()
        runner.model.backbone.register_forward_hook(self._record)

    def _record(self, backbone, inputs, outputs):
        if backbone.training:
            self.dtypes.update(out.dtype for out in outputs)


def in_float32(function):
    """``function`` run on float32 copies of its floating-point tensor arguments, its floating
    results cast back to the dtype of the first of them."""
    def as_dtype(value, dtype):
        if isinstance(value, tuple):
            return tuple(as_dtype(item, dtype) for item in value)
        return value.to(dtype) if torch.is_tensor(value) and value.is_floating_point() else value

    def run(*args, **kwargs):
        dtype = next(arg.dtype for arg in args if torch.is_tensor(arg))
        return as_dtype(function(*as_dtype(args, torch.float32), **kwargs), dtype)
    return run


def small_data(toolbox, name, request):
    """``fit_to_small_data`` of the toolbox's config test, with its data set."""
    cfg = Config.fromfile(CONFIGS / toolbox / name)
    if toolbox == 'mmpretrain':
        test_mmpretrain_configs.fit_to_small_data(cfg, request.getfixturevalue('imagenet'))
    elif toolbox == 'mmpose':
        test_mmpose_configs.fit_to_small_data(cfg, request.getfixturevalue('coco_keypoints'))
    elif toolbox == 'mmseg':
        test_mmseg_configs.fit_to_small_data(cfg, name,
                                             request.getfixturevalue('segmentation_roots'))
    else:
        test_mmdet_configs.fit_to_small_data(cfg, request.getfixturevalue('coco_instances'))
    return cfg


def without_what_lacks_bfloat16_on_the_cpu(toolbox, cfg, monkeypatch):
    """mmpose's accuracy off; mmcv's NMS and RoIAlign on float32 copies (module doc)."""
    if toolbox == 'mmpose':
        cfg.model.train_cfg = dict(cfg.model.get('train_cfg', {}), compute_acc=False)
    if toolbox == 'mmdet':
        for module, function in (('mmcv.ops.nms', 'nms'), ('mmcv.ops.roi_align', 'roi_align')):
            module = sys.modules[module]
            monkeypatch.setattr(module, function, in_float32(getattr(module, function)))


@pytest.mark.parametrize('toolbox, name', [
    ('mmpretrain', 'hrformer-tiny_16xb64_in1k.py'),
    ('mmpose', 'td-hm_hrformer-tiny_8xb32-210e_coco-256x192.py'),
    ('mmseg', 'ocrnet_hrformer-small_4xb4-60k_pascal-context-59-520x520.py'),
    ('mmdet', 'faster-rcnn_hrformer-small-hrfpn_1x_coco.py'),
])
def test_config_trains_in_bfloat16_with_finite_losses(toolbox, name, request, tmp_path,
                                                      monkeypatch):
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    cfg = small_data(toolbox, name, request)
    without_what_lacks_bfloat16_on_the_cpu(toolbox, cfg, monkeypatch)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=ITERATIONS, val_interval=ITERATIONS)
    fit_schedule(cfg, ITERATIONS)
    dtypes = BackboneOutputDtypes()
    run = train_then_validate(cfg, tmp_path, adapt_precision=bfloat16_amp, hooks=[dtypes])
    wrapper = run.runner.optim_wrapper
    assert type(wrapper) is AmpOptimWrapper and wrapper.cast_dtype == torch.bfloat16
    assert wrapper.optimizer.defaults['fused']
    assert dtypes.dtypes == {torch.bfloat16}
    assert len(run.losses) == ITERATIONS
    assert all(math.isfinite(loss) for loss in run.losses), run.losses


def test_optimizer_state_from_the_unfused_update_resumes_under_the_fused_one():
    """Work directories trained before the configs took AdamW's fused update resume with it:
    the loaded state continues as the unfused update would."""
    torch.manual_seed(0)
    model, x = torch.nn.Linear(8, 4), torch.randn(16, 8)

    def steps(optimizer, count):
        for _ in range(count):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            optimizer.step()

    unfused = torch.optim.AdamW(model.parameters(), lr=0.1)
    steps(unfused, 2)
    saved = deepcopy((model.state_dict(), unfused.state_dict()))  # (the update is in place)
    steps(unfused, 2)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(saved[0])
    fused = torch.optim.AdamW(model.parameters(), lr=0.1, fused=True)
    fused.load_state_dict(saved[1])
    steps(fused, 2)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key])
