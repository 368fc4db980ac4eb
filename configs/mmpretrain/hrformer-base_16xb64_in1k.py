# HRFormer-B (mmhrformer) ImageNet-1K classifier, 224x224: the paper's recipe
# (the Swin/DeiT one: AdamW, cosine decay, weight decay 0.05, batch 1024 = 16 x 64, 300 epochs,
# RandAugment, mixup, CutMix, label smoothing), from mmpretrain's own Swin base configs.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmhrformer.HRFormer',
        arch='base',
        drop_path_rate=0.2,
        upsample_mode='nearest'),  # as the official classifier, so its weights load
    neck=dict(type='mmhrformer.HRFormerClsNeck', in_channels=[78, 156, 312, 624]),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=None),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
