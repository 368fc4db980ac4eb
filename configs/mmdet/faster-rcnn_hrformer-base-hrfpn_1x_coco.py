# Faster R-CNN with HRFormer-B (mmhrformer) and HRFPN, COCO, 1x: the HRFormer-S config with the
# base backbone.
_base_ = ['./faster-rcnn_hrformer-small-hrfpn_1x_coco.py']

model = dict(backbone=dict(arch='base'), neck=dict(in_channels=[78, 156, 312, 624]))
