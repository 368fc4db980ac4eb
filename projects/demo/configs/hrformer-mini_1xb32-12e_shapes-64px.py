# A small HRFormer classifier trained on the generated shapes set (see ../README.md), mmpretrain.
_base_ = ['mmpretrain::_base_/default_runtime.py', './_base_/hrformer-mini.py']

channels = _base_.hrformer_mini.arch.channels
model = dict(
    type='ImageClassifier',
    backbone=_base_.hrformer_mini,
    neck=dict(type='mmhrformer.HRFormerClsNeck', in_channels=channels, planes=[8, 16, 32, 64],
              out_channels=256),
    head=dict(type='LinearClsHead', num_classes=3, in_channels=256,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )))

data_root = 'data/demo/shapes'
data_preprocessor = dict(num_classes=3, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=12)
train_cfg = dict(by_epoch=True, max_epochs=12, val_interval=6)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=5),
                     checkpoint=dict(type='CheckpointHook', interval=6))
randomness = dict(seed=0)
