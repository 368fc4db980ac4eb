# A pose model small enough for multi-process and crash-and-resume runs on 2 CPU cores: mmpose's
# COCO HRFormer-S config (SyncBN and its random augmentations included) with a nano backbone,
# 64x48 inputs, no validation, a checkpoint per epoch. The tests set data_root with --cfg-options.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrformer-small_8xb32-210e_coco-256x192.py']

custom_imports = dict(imports=['mmhrformer', 'tests.test_reliability.cpu_distributed'],
                      allow_failed_imports=False)

codec = dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=1)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch=dict(channels=[8, 16, 24, 32], num_heads=[1, 2, 2, 4], mlp_ratios=[2, 2, 2, 2],
                  num_modules=[1, 1, 1], num_blocks=[1, 1, 1], stem_channels=16,
                  stage1_blocks=1),
        window_size=4,
        out_indices=(0, ),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=None),
    head=dict(in_channels=8, decoder=codec),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# One worker: the augmentations draw from the worker's generators, which mmengine seeds anew
# for each epoch, so a run resumed at an epoch boundary draws what an uninterrupted one does.
train_dataloader = dict(batch_size=4, num_workers=1, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

train_cfg = dict(by_epoch=True, max_epochs=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=4, start_factor=0.1, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=3, milestones=[2], gamma=0.1, by_epoch=True),
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, save_best=None))
# Instead of mmpose's SyncBuffersHook: the ranks' BatchNorm statistics agree only if SyncBN works.
custom_hooks = [dict(type='RankStateDumpHook')]

env_cfg = dict(dist_cfg=dict(backend='gloo'))
# device_ids=None: DDP takes the module's device, CPU or one GPU (mmengine's default passes
# LOCAL_RANK, which DDP refuses for a CPU module).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                         broadcast_buffers=False)
randomness = dict(seed=0, deterministic=True)
