"""Small data sets in the real on-disk formats, and a Runner for a config of ours on them."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

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


def train_then_validate(cfg: Config, work_dir: Path) -> dict:
    """Builds the toolbox's Runner from ``cfg``, trains it, and returns the validation metrics."""
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.launcher = 'none'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.val()


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
              'cityscapes': ('train', 'val')}
    return {layout: write_segmentation_set(str(tmp_path_factory.mktemp(layout)), layout,
                                           {split: 2 for split in names})
            for layout, names in splits.items()}


@pytest.fixture(scope='session')
def coco_instances(tmp_path_factory):
    from mmhrformer.synthetic.coco_instances import write_coco_instances
    return write_coco_instances(str(tmp_path_factory.mktemp('coco_det')),
                                {'train2017': 2, 'val2017': 2})
