"""Every mmpretrain config of ours trains through mmpretrain's Runner and is scored by top-1:
our backbone as configured, a lower loss, a checkpoint that loads back, and top-1 and top-5 as
the predicted scores give them."""
import pytest
import torch
from mmengine.config import Config

from .conftest import (CONFIGS, assert_ours_trained_and_saved, configs_of, drop_warmup,
                       fit_schedule, shrink_dataloader, train_then_validate)


def fit_to_small_data(cfg: Config, imagenet) -> None:
    """Points ``cfg`` at the small ImageNet set, 3 images a batch."""
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=3)
        loader.dataset.data_root = str(imagenet)
    cfg.test_dataloader = cfg.val_dataloader


@pytest.mark.parametrize('name', configs_of('mmpretrain'))
def test_config_trains_our_backbone_lowers_the_loss_and_scores_top1(name, imagenet, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmpretrain' / name)
    fit_to_small_data(cfg, imagenet)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)  # 6 images, batch 3
    drop_warmup(cfg)
    fit_schedule(cfg, 1)
    run = train_then_validate(cfg, tmp_path)
    assert_ours_trained_and_saved(cfg, run)
    # Top-1 and top-5 from the predictions themselves: each image's 1000 class scores.
    scores = torch.stack([sample.pred_score for sample in run.predictions])
    labels = torch.cat([sample.gt_label for sample in run.predictions])
    assert scores.shape == (len(run.runner.val_dataloader.dataset), 1000)
    for k in (1, 5):
        hits = (scores.topk(k, dim=1).indices == labels[:, None]).any(dim=1)
        assert run.metrics[f'accuracy/top{k}'] == pytest.approx(hits.double().mean().item() * 100)
