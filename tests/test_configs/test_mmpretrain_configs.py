"""Every mmpretrain config of ours trains through mmpretrain's Runner and is scored by top-1."""
import pytest
from mmengine.config import Config

from .conftest import CONFIGS, configs_of, fit_schedule, shrink_dataloader, train_then_validate


@pytest.mark.parametrize('name', configs_of('mmpretrain'))
def test_config_trains_two_iterations_and_validates_with_top1(name, imagenet, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmpretrain' / name)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=3)
        loader.dataset.data_root = str(imagenet)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)  # 6 images, batch 3
    fit_schedule(cfg, 1)
    metrics = train_then_validate(cfg, tmp_path)
    assert 0. <= metrics['accuracy/top1'] <= 100.
