"""Every mmseg config of ours trains through mmseg's Runner and is scored by mIoU.

The configs resize images to 512 x 1024 and more; on 2 CPU cores one training step of HRFormer-S
on a Cityscapes crop of that size takes 13 GB and minutes, so the test scales every image size of
the pipelines, the data preprocessor and the sliding-window inference down by 4, the same for all.
"""
import pytest
from mmengine.config import Config

from .conftest import (CONFIGS, configs_of, fit_schedule, scale_image_sizes, shrink_dataloader,
                       train_then_validate)

LAYOUT_OF = {'pascal-context-59': 'pascal_context_59', 'ade20k': 'ade20k',
             'cityscapes': 'cityscapes'}


def layout_of(name):
    return next(layout for key, layout in LAYOUT_OF.items() if key in name)


@pytest.mark.parametrize('name', configs_of('mmseg'))
def test_config_trains_two_iterations_and_validates_with_miou(name, segmentation_roots, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmseg' / name)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=2 if loader is cfg.train_dataloader else 1)
        loader.dataset.data_root = str(segmentation_roots[layout_of(name)])
    scale_image_sizes(cfg, 1 / 4)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    fit_schedule(cfg, 2)
    metrics = train_then_validate(cfg, tmp_path)
    assert 0. <= metrics['mIoU'] <= 100.
