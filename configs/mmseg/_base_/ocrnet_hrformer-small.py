# HRFormer-S + OCR: what every OCR config of ours shares, read from the official segmentation
# code (HRNet/HRFormer seg/: lib/models/nets/hrt.py, segmentor/trainer.py,
# segmentor/tools/optim_scheduler.py, scripts/*/hrt/run_hrt_*_ocr_v2_ohem*.sh). The dataset
# configs set the data, the iterations and the losses. docs/recipes.md compares each value.
_base_ = ['mmseg::_base_/models/ocrnet_hr18.py', 'mmseg::_base_/default_runtime.py']

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

# The crop of the 520x520 data sets (pascal_context, ade20k, coco_stuff); their pipelines below.
crop_520 = (520, 520)

# ImageNet-pretrained HRFormer-S as mmpose publishes it (the official seg scripts start from the
# official hrt_small.pth, which is published only behind a OneDrive share link).
pretrained = ('https://download.openmmlab.com/mmpose/pretrain_models/'
              'hrformer_small-09516375_20220226.pth')
in_channels = [32, 64, 128, 256]
norm_cfg = dict(type='SyncBN', requires_grad=True)

# The official heads: an auxiliary 3x3 conv to 512 (+BN, ReLU) and a 1x1 classifier on the
# concatenated streams; OCR with a 3x3 conv to 512, key channels 256 and dropout 0.05 before its
# classifier. The official code resizes with align_corners=True.
aux_head = dict(
    type='FCNHead', in_channels=in_channels, in_index=(0, 1, 2, 3),
    input_transform='resize_concat', channels=512, kernel_size=3, num_convs=1,
    concat_input=False, dropout_ratio=-1, norm_cfg=norm_cfg, align_corners=True,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                     avg_non_ignore=True))
ocr_head = dict(
    type='OCRHead', in_channels=in_channels, in_index=(0, 1, 2, 3),
    input_transform='resize_concat', channels=512, ocr_channels=256, dropout_ratio=0.05,
    norm_cfg=norm_cfg, align_corners=True,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                     avg_non_ignore=True))

model = dict(
    pretrained=None,  # the HRNet weights of the parent config: not ours
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='small',
        drop_path_rate=0.2,
        upsample_mode='nearest',  # as the official segmentation code
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    data_preprocessor=dict(size=crop_520),  # Cityscapes sets its own
    test_cfg=dict(mode='whole'))

# AdamW, no weight decay on norms, biases and the position-bias tables (the official
# group_method 'decay'), mixed precision with a dynamic loss scale (the official trainer's
# autocast and GradScaler).
# AdamW's fused update: the same arithmetic in one kernel per parameter tensor, where the default
# loop takes about a dozen (mmengine gives each parameter a group of its own).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                   fused=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'relative_position_bias_table': dict(decay_mult=0.)}))

# The official 'warm_lambda_poly': linear warm-up over 1500 iterations from 1e-6 of the rate,
# then poly decay with power 0.9 to zero, over Cityscapes' 80k iterations; the other data sets
# set their own length (param_scheduler[1].end, train_cfg, checkpoint interval).
max_iters = 80000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters // 10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 10))

# The official train-time transforms for the 520x520 data sets (pascal_context, ade20k,
# coco_stuff H_48_D_4.json): horizontal flip, shorter side to 520, random scale 0.5-2, random
# 520x520 crop, brightness shift of up to 10 grey levels. mmseg's PhotoMetricDistortion with
# contrast, saturation and hue off is that shift (applied to half of the images, not to all).
# Its hue cannot be off: hue_delta=0 fails in numpy's randint; 1 shifts the hue of half of the
# images by at most 1 of 180 steps.
train_pipeline_520 = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2080, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_520, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=10, contrast_range=(1.0, 1.0),
         saturation_range=(1.0, 1.0), hue_delta=1),
    dict(type='PackSegInputs'),
]
# The official test on these sets: each image whole, at its own size.
test_pipeline_original_size = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
