# HRFormer-B (mmhrformer) + FCN head, Pascal Context (59 classes), 480x480: the HRFormer-S
# config with the base backbone.
_base_ = ['./fcn_hrformer-small_4xb4-80k_pascal-context-59-480x480.py']

model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    decode_head=dict(in_channels=[78, 156, 312, 624], channels=1170))
