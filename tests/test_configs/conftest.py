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
