# Faster R-CNN with HRFormer-S (mmhrformer) and mmdet's HRFPN neck, COCO, 1x schedule.
# No published HRFormer detector exists: this is ours, mmdet's HRNetV2p config with the backbone
# swapped (HRFPN fuses the four streams as it does for HRNet).
_base_ = ['mmdet::hrnet/faster-rcnn_hrnetv2p-w18-1x_coco.py']

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='small',
        drop_path_rate=0.2,
        upsample_mode='nearest',
        norm_cfg=dict(type='BN', requires_grad=True),
        # ImageNet-pretrained HRFormer-S, as mmpose publishes it
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_small-09516375_20220226.pth')),
    neck=dict(in_channels=[32, 64, 128, 256]))

# AdamW for the transformer backbone, as mmdet's Swin detectors; mixed precision with a dynamic
# loss scale, as every config of ours.
# AdamW's fused update: the same arithmetic in one kernel per parameter tensor, where the default
# loop takes about a dozen (mmengine gives each parameter a group of its own).
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05,
                   fused=True),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))
