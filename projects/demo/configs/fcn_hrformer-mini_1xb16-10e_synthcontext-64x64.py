# The `make demo-seg` model: the demos' "mini" HRFormer + mmseg's FCN head on the four upsampled,
# concatenated streams, trained on generated Pascal-Context-59-style scenes (mmhrformer.synthetic),
# 64x64. mmseg's FCN-HRNet Pascal Context config with the backbone, sizes, optimizer and schedule
# changed for 2 CPU cores.
_base_ = ['mmseg::hrnet/fcn_hr18_4xb4-80k_pascal-context-59-480x480.py',
          './_base_/hrformer-mini.py']

data_root = 'data/demo/context/'
crop_size = (64, 64)
channels = _base_.hrformer_mini.arch.channels
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,  # the HRNet weights of the parent config
    data_preprocessor=dict(size=crop_size),
    backbone=dict(_base_.hrformer_mini, _delete_=True, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=channels, channels=sum(channels), norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode='whole'))

# A class is told by its colour and stripes, which PhotoMetricDistortion would shift; the rest is
# mmseg's Pascal Context pipeline at this size.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=10, by_epoch=True, eta_min=1e-5),
]
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=10, val_interval=5)
log_processor = dict(by_epoch=True)
default_hooks = dict(logger=dict(interval=10, log_metric_by_epoch=True),
                     checkpoint=dict(by_epoch=True, interval=5))
randomness = dict(seed=0)
