# Mask R-CNN with HRFormer-B (mmhrformer) and HRFPN, COCO, 1x: the HRFormer-S config with the
# base backbone.
_base_ = ['./mask-rcnn_hrformer-small-hrfpn_1x_coco.py']

model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    neck=dict(in_channels=[78, 156, 312, 624]))
