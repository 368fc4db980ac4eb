# HRFormer-S (mmhrformer) + FCN head, Pascal Context (59 classes), 480x480:
# mmseg's FCN-HRNet Pascal Context config with the backbone swapped.
_base_ = ['mmseg::hrnet/fcn_hr18_4xb4-80k_pascal-context-59-480x480.py']

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,  # the HRNet weights of the parent config: not ours
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='small',
        drop_path_rate=0.2,
        upsample_mode='nearest',  # as the official segmentation code
        norm_cfg=norm_cfg,
        # ImageNet-pretrained HRFormer-S, as mmpose publishes it
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_small-09516375_20220226.pth')),
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=480))

# AdamW for the transformer backbone (our choice; mmseg's HRNet configs use SGD), poly decay;
# mixed precision with a dynamic loss scale, as the OCR configs.
# AdamW's fused update: the same arithmetic in one kernel per parameter tensor, where the default
# loop takes about a dozen (mmengine gives each parameter a group of its own).
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01,
                   fused=True),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=80000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000))
