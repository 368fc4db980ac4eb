# The `make demo` model: a small HRFormer of our own ("mini", narrower and shallower than
# HRFormer-T) trained top-down on the generated COCO-format figures (mmhrformer.synthetic), 128x96.
# mmpose's COCO HRFormer config with the backbone, sizes and schedule changed for 2 CPU cores.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrformer-small_8xb32-210e_coco-256x192.py',
          './_base_/hrformer-mini.py']

data_root = 'data/demo/coco/'
codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)

model = dict(
    backbone=dict(
        _base_.hrformer_mini,
        _delete_=True,
        # Two blocks per module where the other demos have one: the AP in ../README.md
        # was measured with this depth.
        arch=dict(_base_.hrformer_mini.arch, num_blocks=[2, 2, 2]),
        out_indices=(0, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    head=dict(in_channels=16, decoder=codec),
    # The figures tell left from right by colour, which a mirror image would contradict.
    test_cfg=dict(flip_test=False))

# No horizontal flip, for the same reason; the rest is mmpose's top-down pipeline.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomBBoxTransform', rotate_factor=30, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=20, by_epoch=True, eta_min=1e-5),
]
train_cfg = dict(max_epochs=20, val_interval=10)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
randomness = dict(seed=0)
