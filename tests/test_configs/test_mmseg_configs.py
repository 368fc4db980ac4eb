"""Every mmseg config of ours trains through mmseg's Runner and is scored by mIoU: our backbone as
configured, a lower loss, a checkpoint that loads back, and an mIoU that a confusion matrix of the
predictions gives too.

The configs resize images to 512 x 1024 and more; on 2 CPU cores one training step of HRFormer-S
on a Cityscapes crop of that size takes 13 GB and minutes, so the test scales every image size of
the pipelines, the data preprocessor and the sliding-window inference down by 4, the same for all.
"""
from copy import deepcopy

import pytest
import torch
from mmengine.config import Config

from .conftest import (CONFIGS, assert_ours_trained_and_saved, configs_of, drop_warmup,
                       fit_schedule, scale_image_sizes, shrink_dataloader, train_then_validate)

LAYOUT_OF = {'pascal-context-59': 'pascal_context_59', 'ade20k': 'ade20k',
             'cityscapes': 'cityscapes', 'coco-stuff10k': 'coco_stuff10k'}


def layout_of(name):
    return next(layout for key, layout in LAYOUT_OF.items() if key in name)


def mean_iou(predictions, num_classes, ignore_index=255):
    """mIoU in %, from a confusion matrix over all pixels of all images; classes that neither the
    ground truth nor the prediction has are left out of the mean."""
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.float64)
    for sample in predictions:
        pred = sample.pred_sem_seg.data.flatten().long()
        truth = sample.gt_sem_seg.data.flatten().long()
        keep = truth != ignore_index
        confusion += torch.bincount(truth[keep] * num_classes + pred[keep],
                                    minlength=num_classes * num_classes)
    confusion = confusion.view(num_classes, num_classes)
    intersection = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - intersection
    return (intersection / union).nanmean().item() * 100


def top_half_right(predictions):
    """Copies of the predictions with the ground truth in the top half of each map: a score
    between 0 and 100 whatever the model predicts."""
    copies = deepcopy(predictions)
    for sample in copies:
        pred, truth = sample.pred_sem_seg.data, sample.gt_sem_seg.data
        rows = pred.shape[-2] // 2
        pred[..., :rows, :] = truth[..., :rows, :]
    return copies


def fit_to_small_data(cfg: Config, name: str, segmentation_roots) -> None:
    """Points ``cfg`` (the config file ``name``) at the small set of its layout, 2 images a
    training batch, image sizes scaled by 1/4."""
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=2 if loader is cfg.train_dataloader else 1)
        loader.dataset.data_root = str(segmentation_roots[layout_of(name)])
    scale_image_sizes(cfg, 1 / 4)
    cfg.test_dataloader = cfg.val_dataloader


@pytest.mark.parametrize('name', configs_of('mmseg'))
def test_config_trains_our_backbone_lowers_the_loss_and_scores_miou(
        name, segmentation_roots, tmp_path):
    cfg = Config.fromfile(CONFIGS / 'mmseg' / name)
    fit_to_small_data(cfg, name, segmentation_roots)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    drop_warmup(cfg)
    fit_schedule(cfg, 2)
    run = train_then_validate(cfg, tmp_path)
    assert_ours_trained_and_saved(cfg, run)
    num_classes = len(run.runner.val_dataloader.dataset.metainfo['classes'])
    assert len(run.predictions) == len(run.runner.val_dataloader.dataset)
    # The run's mIoU and the config's evaluator on half-right predictions, each against the
    # confusion matrix of the same predictions (the metric is rounded to 2 decimals).
    assert run.metrics['mIoU'] == pytest.approx(mean_iou(run.predictions, num_classes), abs=0.006)
    half_right = top_half_right(run.predictions)
    run.runner.val_evaluator.process(half_right)
    miou = run.runner.val_evaluator.evaluate(len(half_right))['mIoU']
    assert miou == pytest.approx(mean_iou(half_right, num_classes), abs=0.006)
    assert miou > 0.
