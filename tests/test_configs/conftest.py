"""Small data sets in the real on-disk formats, a Runner for a config of ours on them, and what
every run of a config must show: our backbone as configured, a lower loss, a checkpoint that
loads back."""
import inspect
import random
from copy import deepcopy
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model.utils import _BatchNormXd
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner, find_latest_checkpoint, load_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

from mmhrformer.models import HRFormer, HRFormerBlock, MemorySavingHRFormerBlock

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def configs_of(toolbox: str):
    """The config files of ``configs/<toolbox>``, for pytest.mark.parametrize."""
    return sorted(p.name for p in (CONFIGS / toolbox).glob('*.py'))


def shrink_dataloader(loader: dict, batch_size: int = 2) -> None:
    loader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)


SIZE_KEYS = ('scale', 'crop_size', 'size', 'stride')


def scaled_sizes(node, factor):
    """A copy of a config node with every 2-int size under :data:`SIZE_KEYS` scaled."""
    if isinstance(node, dict):
        return type(node)({key: tuple(max(32, int(v * factor) // 32 * 32) for v in value)
                           if key in SIZE_KEYS and isinstance(value, (tuple, list))
                           and len(value) == 2 else scaled_sizes(value, factor)
                           for key, value in node.items()})
    if isinstance(node, list):
        return [scaled_sizes(item, factor) for item in node]
    return node


def scale_image_sizes(cfg: Config, factor: float) -> None:
    """Scales the image sizes of the pipelines, the data preprocessor and sliding-window
    inference: the configs' full sizes take minutes and many GB per step on 2 CPU cores."""
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.pipeline = scaled_sizes(loader.dataset.pipeline, factor)
    cfg.model.data_preprocessor = scaled_sizes(cfg.model.data_preprocessor, factor)
    if 'test_cfg' in cfg.model:
        cfg.model.test_cfg = scaled_sizes(cfg.model.test_cfg, factor)


def fit_schedule(cfg: Config, length: int) -> None:
    """Clips the config's schedulers to a run of ``length`` epochs (or iterations): those that
    would start after it are dropped, the others end with it."""
    schedulers = cfg.param_scheduler
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    kept = [dict(s) for s in schedulers if s.get('begin', 0) < length]
    for scheduler in kept:
        scheduler['end'] = min(scheduler.get('end', length), length)
    cfg.param_scheduler = kept


def drop_warmup(cfg: Config) -> None:
    """Removes the configs' linear warm-up: its first steps take 1/1000 of the learning rate
    (mmseg's 1e-6), which two steps would not show in the loss. The optimizer stays as
    configured, at its base rate."""
    schedulers = cfg.param_scheduler
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    cfg.param_scheduler = [s for s in schedulers if s.type != 'LinearLR']


def full_precision_without_gpu(cfg: Config) -> None:
    """Configs that train in mixed precision, as their official recipes did, name mmengine's
    ``AmpOptimWrapper``, which refuses to run without a GPU: without one the same optimizer
    trains in float32."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
        wrapper.type = 'OptimWrapper'


def seed_everything(seed: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class RunRecorder(Hook):
    """Records the first training batch (drawn after seeding, so that the same batch augmentation
    and drop-path masks can be drawn again), the loss of every training step (``losses``; the
    first step's is ``first_loss``), and the predictions and metrics of the last validation."""

    priority = 'LOWEST'  # the last before the step: nothing draws random numbers after the seed

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == 0:
            self.first_batch = deepcopy(data_batch)  # data preprocessors write into the samples
            self.losses = []
            seed_everything()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(outputs['loss'].item())

    @property
    def first_loss(self) -> float:
        return self.losses[0]

    def before_val_epoch(self, runner):
        self.predictions = []

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.predictions.extend(outputs)

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics

    def loss_on_first_batch(self, model) -> float:
        """The training loss of ``model`` on the first batch, drawn as the first step drew it: the
        first step's loss if ``model`` has the weights it had then. Updates the norms' running
        statistics, as a training step does."""
        model.train()
        seed_everything()
        with torch.no_grad():
            data = model.data_preprocessor(deepcopy(self.first_batch), True)
            losses = model(**data, mode='loss')
        return float(model.parse_losses(losses)[0])


def train_then_validate(cfg: Config, work_dir: Path, adapt_precision=full_precision_without_gpu,
                        hooks: Sequence[Hook] = ()) -> RunRecorder:
    """Builds the toolbox's Runner from ``cfg`` and trains it, seeded, validating and saving the
    model's weights at the end; ``adapt_precision(cfg)`` fits the config's optimizer wrapper to
    this machine first, and ``hooks`` join the Runner's. Returns the record of the run;
    ``.runner`` is the Runner."""
    cfg.work_dir = str(work_dir)
    loop = cfg.train_cfg
    by_epoch = loop.get('type', 'EpochBasedTrainLoop') == 'EpochBasedTrainLoop' and loop.get(
        'by_epoch', True)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=by_epoch, save_optimizer=False, save_param_scheduler=False,
        interval=loop.max_epochs if by_epoch else loop.max_iters)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)  # the same weights and augmentation in every run
    adapt_precision(cfg)
    # Random weights: nothing downloads here (tests/test_checkpoint loads published layouts).
    cfg.model.backbone.init_cfg = None
    recorder = RunRecorder()
    recorder.runner = Runner.from_cfg(cfg)
    for hook in (*hooks, recorder):
        recorder.runner.register_hook(hook)
    recorder.runner.train()
    return recorder


#: The paper's variants (Table 1 of arXiv 2110.09408): per stream channels and heads, modules per
#: stage 2-4; every variant has 2 blocks per stream in each module and an MLP ratio of 4.
PAPER_ARCHS = {'tiny': ([18, 36, 72, 144], [1, 2, 4, 8], [1, 3, 2]),
               'small': ([32, 64, 128, 256], [1, 2, 4, 8], [1, 4, 2]),
               'base': ([78, 156, 312, 624], [2, 4, 8, 16], [1, 4, 2])}


MEMORY_SAVING_DEFAULT = inspect.signature(HRFormer).parameters['memory_saving'].default


def assert_backbone_is_ours_as_configured(cfg: Config, model) -> None:
    """The Runner's model has our HRFormer with the config's variant, windows, drop path rate,
    blocks (memory-saving or plain), outputs and norm (SyncBN becomes mmengine's _BatchNormXd in
    a run of one process)."""
    want = cfg.model.backbone
    backbone = model.backbone
    assert type(backbone) is HRFormer
    channels, heads, modules = PAPER_ARCHS[want.arch]
    window = want.get('window_size', 7)
    memory_saving = want.get('memory_saving', MEMORY_SAVING_DEFAULT)
    block_type = MemorySavingHRFormerBlock if memory_saving else HRFormerBlock
    rates = []
    for stage, num_modules in zip((backbone.stage2, backbone.stage3, backbone.stage4), modules):
        assert len(stage) == num_modules
        for module in stage:
            for stream, branch in enumerate(module.branches):
                assert len(branch) == 2
                for block in branch:
                    assert type(block) is block_type
                    assert block.attn.num_heads == heads[stream]
                    assert block.attn.window_size == (window, window)
                    assert block.ffn.fc1.in_channels == channels[stream]
                    assert block.ffn.fc1.out_channels == 4 * channels[stream]
                    rates.append(block.drop_path.drop_prob)
    assert min(rates) == 0. and max(rates) == pytest.approx(want.get('drop_path_rate', 0.))
    out_indices = tuple(want.get('out_indices', (0, 1, 2, 3)))
    assert backbone.out_channels == tuple(channels[i] for i in out_indices)
    synced = want.get('norm_cfg', {}).get('type') == 'SyncBN'
    norm = _BatchNormXd if synced else torch.nn.BatchNorm2d
    assert {type(m) for m in backbone.modules() if isinstance(m, _BatchNorm)} == {norm}


def assert_checkpoint_loads_back(cfg: Config, run: RunRecorder) -> None:
    """The checkpoint the run wrote loads, strictly, into a model built anew from the config and
    gives it the trained state dict, every tensor equal."""
    trained = run.runner.model.state_dict()
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    load_checkpoint(model, find_latest_checkpoint(run.runner.work_dir), strict=True)
    loaded = model.state_dict()
    assert loaded.keys() == trained.keys()
    for key, value in trained.items():
        assert torch.equal(loaded[key], value), key


def assert_ours_trained_and_saved(cfg: Config, run: RunRecorder) -> None:
    """Our backbone as configured, a checkpoint that loads back, and a loss on the first batch
    below what it was before the first step."""
    assert_backbone_is_ours_as_configured(cfg, run.runner.model)
    assert_checkpoint_loads_back(cfg, run)  # before the loss: it updates running statistics
    loss = run.loss_on_first_batch(run.runner.model)
    assert loss < run.first_loss, f'loss {run.first_loss:.5g} -> {loss:.5g}'


@pytest.fixture(scope='session')
def coco_keypoints(tmp_path_factory):
    from mmhrformer.synthetic.coco_keypoints import write_coco_keypoints
    return write_coco_keypoints(str(tmp_path_factory.mktemp('coco')),
                                {'train2017': 4, 'val2017': 2}, max_people=1)


@pytest.fixture(scope='session')
def imagenet(tmp_path_factory):
    from mmhrformer.synthetic import write_imagenet_set
    return write_imagenet_set(str(tmp_path_factory.mktemp('imagenet')), {'train': 2, 'val': 1})


@pytest.fixture(scope='session')
def segmentation_roots(tmp_path_factory):
    """layout -> data root, with two training and two validation images."""
    from mmhrformer.synthetic.segmentation import write_segmentation_set
    splits = {'pascal_context_59': ('train', 'val'), 'ade20k': ('training', 'validation'),
              'cityscapes': ('train', 'val'), 'coco_stuff10k': ('train2014', 'test2014')}
    return {layout: write_segmentation_set(str(tmp_path_factory.mktemp(layout)), layout,
                                           {split: 2 for split in names})
            for layout, names in splits.items()}


@pytest.fixture(scope='session')
def coco_instances(tmp_path_factory):
    from mmhrformer.synthetic.coco_instances import write_coco_instances
    return write_coco_instances(str(tmp_path_factory.mktemp('coco_det')),
                                {'train2017': 2, 'val2017': 2})
