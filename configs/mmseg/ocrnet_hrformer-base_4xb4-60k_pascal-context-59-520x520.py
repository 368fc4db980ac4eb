# HRFormer-B (mmhrformer) + OCR, Pascal Context (59 classes), 520x520, 60k iterations, batch 16,
# the paper's segmentation model.
_base_ = [
    'mmseg::_base_/models/ocrnet_hr18.py',
    'mmseg::_base_/datasets/pascal_context_59.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

crop_size = (520, 520)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,  # the HRNet weights of the parent config: not ours
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='base',
        drop_path_rate=0.2,
        upsample_mode='nearest',  # as the official segmentation code
        norm_cfg=norm_cfg,
        # ImageNet-pretrained weights: see README ("Checkpoints"), then
        # init_cfg=dict(type='Pretrained', checkpoint='<converted file>')
        init_cfg=None),
    # a list replaces the parent's list whole, so both heads are spelled out
    decode_head=[
        dict(type='FCNHead', in_channels=[78, 156, 312, 624], channels=1170, in_index=(0, 1, 2, 3),
             input_transform='resize_concat', kernel_size=1, num_convs=1, concat_input=False,
             dropout_ratio=-1, num_classes=59, norm_cfg=norm_cfg, align_corners=False,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
        dict(type='OCRHead', in_channels=[78, 156, 312, 624], in_index=(0, 1, 2, 3),
             input_transform='resize_concat', channels=512, ocr_channels=256, dropout_ratio=-1,
             num_classes=59, norm_cfg=norm_cfg, align_corners=False,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    ],
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(346, 346)))

# The paper trains on 520x520 crops (mmseg's Pascal Context pipeline crops 480x480).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(520, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
# AdamW for the transformer backbone (our choice; mmseg's HRNet configs use SGD), poly decay.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=60000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=60000, val_interval=6000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=6000))
