# HRFormer-T (mmhrformer) ImageNet-1K classifier, 224x224: the paper's recipe
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
        arch='tiny',
        drop_path_rate=0.0,
        upsample_mode='nearest'),  # as the official classifier, so its weights load
    neck=dict(type='mmhrformer.HRFormerClsNeck', in_channels=[18, 36, 72, 144]),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=None),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

# The official trainer (cls/main.py, cls/config.py): apex AMP O1 (mixed precision, dynamic loss
# scale), gradients clipped to norm 5, no weight decay on 1-D parameters (norms) and biases
# (cls/optimizer.py). Unlike mmpretrain's Swin schedule, the official one decays the
# relative-position-bias tables: HRFormer's model declares no no_weight_decay keywords.
# AdamW's fused update: the same arithmetic in one kernel per parameter tensor, where the default
# loop takes about a dozen (mmengine gives each parameter a group of its own).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(fused=True),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0, bias_decay_mult=0.0,
                       flat_decay_mult=0.0))
