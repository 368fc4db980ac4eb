"""Drop-in: stock HRNet configs of the installed toolboxes train with only the backbone swapped.

HRFormer-T has HRNet-W18's channels and HRFormer-S HRNet-W32's, so the next module's in_channels
need no change here. mmseg and mmdet configs also name HRNet's ImageNet weights
(``model.pretrained`` / the backbone's ``init_cfg``): those are not HRFormer weights, so they go.
Each test checks that the toolbox's model holds our backbone, whose output channels are the ones
its neck or head was configured for, and that a forward pass gives the toolbox's output shapes.
"""
import torch
from mmengine.hub import get_config

import mmhrformer  # noqa: F401  (what custom_imports=['mmhrformer'] does in a config)
from mmhrformer.models import HRFormer

from .conftest import fit_schedule, scale_image_sizes, shrink_dataloader, train_then_validate


def one_iteration(cfg, root, tmp_path):
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        shrink_dataloader(loader, batch_size=2)
        loader.dataset.data_root = root
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
    fit_schedule(cfg, 1)
    return train_then_validate(cfg, tmp_path)


def trained_backbone_fits(run, expected_channels):
    """The Runner's model (in eval mode) after checking that its backbone is ours and gives the
    channels that the next module of the stock config takes."""
    model = run.runner.model.eval()
    assert type(model.backbone) is HRFormer
    assert list(model.backbone.out_channels) == list(expected_channels)
    return model


def test_mmpretrain_hrnet_w18_classifier(imagenet, tmp_path):
    cfg = get_config('mmpretrain::hrnet/hrnet-w18_4xb32_in1k.py')
    cfg.model.backbone = dict(type='HRFormer', arch='tiny')
    run = one_iteration(cfg, str(imagenet), tmp_path)
    model = trained_backbone_fits(run, cfg.model.neck[0].in_channels)  # HRFuseScales
    with torch.no_grad():
        assert model(torch.randn(2, 3, 224, 224), mode='tensor').shape == (2, 1000)
    assert 0. <= run.metrics['accuracy/top1'] <= 100.


def test_mmseg_fcn_hr18_pascal_context(segmentation_roots, tmp_path):
    cfg = get_config('mmseg::hrnet/fcn_hr18_4xb4-40k_pascal-context-59-480x480.py')
    cfg.model.backbone = dict(type='HRFormer', arch='tiny')
    cfg.model.pretrained = None
    run = one_iteration(cfg, str(segmentation_roots['pascal_context_59']), tmp_path)
    model = trained_backbone_fits(run, cfg.model.decode_head.in_channels)  # FCNHead
    # Per-pixel logits of the 59 classes at stride 4.
    with torch.no_grad():
        assert model(torch.randn(2, 3, 96, 128), mode='tensor').shape == (2, 59, 24, 32)
    assert 0. <= run.metrics['mIoU'] <= 100.


def test_mmdet_faster_rcnn_hrnetv2p_w18(coco_instances, tmp_path):
    cfg = get_config('mmdet::hrnet/faster-rcnn_hrnetv2p-w18-1x_coco.py')
    cfg.model.backbone = dict(type='HRFormer', arch='tiny')
    scale_image_sizes(cfg, 1 / 4)  # as in test_mmdet_configs
    cfg.model.test_cfg.rcnn.score_thr = 0.
    root = str(coco_instances) + '/'
    cfg.val_evaluator.ann_file = root + 'annotations/instances_val2017.json'
    cfg.test_evaluator = cfg.val_evaluator
    shrink_dataloader(cfg.val_dataloader, batch_size=1)
    run = one_iteration(cfg, root, tmp_path)
    model = trained_backbone_fits(run, cfg.model.neck.in_channels)  # HRFPN
    # HRFPN's five levels of 256 channels, strides 4 to 64, which the RPN and RoI heads take.
    with torch.no_grad():
        features = model.extract_feat(torch.randn(1, 3, 128, 192))
    assert [tuple(f.shape) for f in features] == [(1, 256, 128 // s, 192 // s)
                                                  for s in (4, 8, 16, 32, 64)]
    assert 0. <= run.metrics['coco/bbox_mAP'] <= 1.


def test_mmpose_hrnet_w32_topdown(coco_keypoints, tmp_path):
    cfg = get_config('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                     'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
    # mmpose's own HRFormer owns the bare name there: ours is the scoped one.
    cfg.model.backbone = dict(type='mmhrformer.HRFormer', arch='small', out_indices=(0, ))
    root = str(coco_keypoints) + '/'
    cfg.val_dataloader.dataset.bbox_file = None
    cfg.val_evaluator.ann_file = root + 'annotations/person_keypoints_val2017.json'
    cfg.test_evaluator = cfg.val_evaluator
    run = one_iteration(cfg, root, tmp_path)
    model = trained_backbone_fits(run, [cfg.model.head.in_channels])  # HeatmapHead
    # 17 keypoint heatmaps at stride 4 of the 256 x 192 input.
    with torch.no_grad():
        heatmaps = model(torch.randn(2, 3, 256, 192), None, mode='tensor')
    assert heatmaps.shape == (2, 17, 64, 48)
    assert 0. <= run.metrics['coco/AP'] <= 1.
