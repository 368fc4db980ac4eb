"""The pose models the benchmark compares, each built from a config through mmengine's Runner.

Built as training builds them: the config is loaded, the Runner builds the model and wraps it,
which in one process reverts every ``SyncBN`` to mmengine's ``_BatchNormXd``, and the optimizer
wrapper comes from the config's ``optim_wrapper`` (AdamW). Weights are random: no ``init_cfg``,
nothing downloaded. A model is the whole top-down pose estimator (data preprocessor, backbone,
heatmap head, loss). The one change to every config: mmpose's training accuracy, a logged figure
that the head computes through numpy, is off (``model.train_cfg.compute_acc=False``): numpy has
no bfloat16, so under bf16 autocast it fails, and users training in bf16 turn it off too.

For each HRFormer variant: ours as the config ships it, ours with plain layers
(``model.backbone.memory_saving=False``), mmpose's own port of HRFormer, and mmpose's HRNet of
the same widths (B: HRNet-W48, the paper's comparison). mmpose has no HRFormer-T or HRNet-W18
COCO config: those two are its S / W32 configs with the widths (and T's module counts) changed.
"""
import tempfile
import uuid
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper

Size = Tuple[int, int]

OUR_CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'mmpose'
OURS = str(OUR_CONFIGS / 'td-hm_hrformer-{}_8xb{}-210e_coco-256x192.py')
COCO = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
PORT = COCO + 'td-hm_hrformer-{}_8xb32-210e_coco-256x192.py'
HRNET = COCO + 'td-hm_hrnet-w{}_8xb{}-210e_coco-256x192.py'

PLAIN = {'model.backbone.memory_saving': False}
W18 = (18, 36, 72, 144)
#: mmpose's S config made T (its port) and W32 config made W18: the widths of the stages and
#: the head (T and S have the same heads and MLP ratios).
TINY_WIDTHS = {f'model.backbone.extra.stage{stage}.num_channels': W18[:stage]
               for stage in (2, 3, 4)}
TINY_WIDTHS['model.head.in_channels'] = 18
TINY_PORT = dict(TINY_WIDTHS, **{'model.backbone.extra.stage3.num_modules': 3})  # S has 4


class ModelSpec(NamedTuple):
    """Where a model's config is and what it changes there."""
    config: str
    role: str  # 'ours', 'plain' (ours without memory saving), 'port' (mmpose's) or 'hrnet'
    variant: str  # 'T', 'S' or 'B': the models of a variant are compared with each other
    overrides: Optional[dict] = None


#: name -> spec; the default comparison is S and B.
MODELS: Dict[str, ModelSpec] = {
    'HRFormer-T': ModelSpec(OURS.format('tiny', 32), 'ours', 'T'),
    'HRFormer-T plain': ModelSpec(OURS.format('tiny', 32), 'plain', 'T', PLAIN),
    'mmpose HRFormer-T': ModelSpec(PORT.format('small'), 'port', 'T', TINY_PORT),
    'HRNet-W18': ModelSpec(HRNET.format(32, 64), 'hrnet', 'T', TINY_WIDTHS),
    'HRFormer-S': ModelSpec(OURS.format('small', 32), 'ours', 'S'),
    'HRFormer-S plain': ModelSpec(OURS.format('small', 32), 'plain', 'S', PLAIN),
    'mmpose HRFormer-S': ModelSpec(PORT.format('small'), 'port', 'S'),
    'HRNet-W32': ModelSpec(HRNET.format(32, 64), 'hrnet', 'S'),
    'HRFormer-B': ModelSpec(OURS.format('base', 32), 'ours', 'B'),
    'HRFormer-B plain': ModelSpec(OURS.format('base', 32), 'plain', 'B', PLAIN),
    'mmpose HRFormer-B': ModelSpec(PORT.format('base'), 'port', 'B'),
    'HRNet-W48': ModelSpec(HRNET.format(48, 32), 'hrnet', 'B'),
}
DEFAULT_MODELS = [name for name, spec in MODELS.items() if spec.variant in ('S', 'B')]


def counterpart(name: str, role: str) -> Optional[str]:
    """The model of ``role`` that ``name`` is compared with (the same variant); None if none."""
    variant = MODELS[name].variant
    return next((other for other, spec in MODELS.items()
                 if spec.variant == variant and spec.role == role), None)


def load_config(name: str) -> Config:
    """The config of model ``name`` with its overrides, random weights, no training accuracy
    and a quiet log."""
    if name not in MODELS:
        raise KeyError(f'unknown benchmark model {name!r}; choose from {sorted(MODELS)}')
    spec = MODELS[name]
    if '::' in spec.config:
        from mmengine.hub import get_config
        cfg = get_config(spec.config)
    else:
        cfg = Config.fromfile(spec.config)
    cfg.merge_from_dict({'model.backbone.init_cfg': None, 'model.train_cfg.compute_acc': False,
                         **(spec.overrides or {})})
    cfg.log_level = 'WARNING'
    return cfg


class PoseModel(NamedTuple):
    """A pose model as the Runner built it, and the optimizer wrapper config it trains with."""
    model: nn.Module
    optim_wrapper_cfg: dict
    num_keypoints: int

    def optim_wrapper(self, amp_dtype: Optional[str] = None) -> OptimWrapper:
        """The config's optimizer wrapper; with ``amp_dtype`` (``'float16'``, ``'bfloat16'``)
        mmengine's ``AmpOptimWrapper`` around the same optimizer (GPUs only)."""
        cfg = dict(self.optim_wrapper_cfg)
        if amp_dtype is not None:
            cfg.update(type='AmpOptimWrapper', dtype=amp_dtype)
        else:  # our configs train with AMP (the official recipes); a float32 step has none
            cfg.update(type='OptimWrapper')
            cfg.pop('loss_scale', None)
        return build_optim_wrapper(self.model, cfg)


def build_pose_model(name: str, device: str = 'cpu') -> PoseModel:
    """Builds model ``name`` (a key of :data:`MODELS`) through ``Runner.from_cfg`` with a
    temporary work_dir, on ``device``."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    cfg = load_config(name)
    # The Runner makes its toolbox's registry scope current for the rest of the process; the scope
    # before it comes back once the model is built.
    with tempfile.TemporaryDirectory() as work_dir, \
            DefaultScope.overwrite_default_scope(cfg.default_scope):
        cfg.work_dir = work_dir
        # The visualizer is a global instance per name: a name of its own for each Runner.
        cfg.experiment_name = f'benchmark-{uuid.uuid4().hex}'
        cfg.visualizer.name = cfg.experiment_name
        runner = Runner.from_cfg(cfg)
        model = runner.model.to(device)
    return PoseModel(model, dict(cfg.optim_wrapper), cfg.model.head.out_channels)


def synthetic_batch(batch: int, size: Size, num_keypoints: int, device: str = 'cpu',
                    seed: int = 0) -> dict:
    """A batch as mmpose's top-down data loader gives it, already on ``device``: ``inputs``,
    ``batch`` uint8 images ``3 x H x W``, and ``data_samples``, ``PoseDataSample``s with
    random target heatmaps at stride 4 and every keypoint weighted 1."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    heatmap_size = (-(-height // 4), -(-width // 4))
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                                    generator=generator).to(device))
        sample = PoseDataSample(metainfo=dict(input_size=(width, height)))
        sample.gt_fields = PixelData(heatmaps=torch.rand(
            num_keypoints, *heatmap_size, generator=generator).to(device))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.ones(1, num_keypoints, device=device))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
