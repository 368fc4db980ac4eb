# HRFormer-S (mmhrformer), top-down heatmap, COCO keypoints, 256x192: the official recipe
# (pose/configs/top_down/hrt/coco/hrt_small_coco_256x192.py): AdamW 5e-4, 210 epochs, batch 256
# (8 GPUs x 32), fp16 with a dynamic loss scale. Inherits mmpose's own HRFormer-S config (the
# same recipe in mmpose 1.x) and swaps in our backbone; docs/recipes.md compares each value.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrformer-small_8xb32-210e_coco-256x192.py']

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='small',
        drop_path_rate=0.1,
        # as mmpose 1.x's port; the official pose fork never adds its position bias, but its
        # ImageNet weights have the tables (docs/recipes.md)
        with_rpe=True,
        out_indices=(0, ),  # the heatmap head takes the stride-4 stream
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        # ImageNet-pretrained HRFormer-S, the file mmpose's own config starts from
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_small-09516375_20220226.pth')),
    head=dict(in_channels=32))

# The official fp16 = dict(loss_scale='dynamic') went to mmcv's Fp16OptimizerHook; mmengine
# ignores a top-level fp16 key and reads the optimizer wrapper instead.
# AdamW's fused update: the same arithmetic in one kernel per parameter tensor, where the default
# loop takes about a dozen (mmengine gives each parameter a group of its own).
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic', optimizer=dict(fused=True))

# The official TopDownGetRandomScaleRotation(rot_factor=40, scale_factor=0.5, rot_prob=0.6)
# and no shift. Its angle is N(0, 40) clipped to +-80 and its scale N(1, 0.5) clipped to
# [0.5, 1.5]; RandomBBoxTransform draws from a normal truncated to the same ranges (angle
# +-80, scale 0.5-1.5), the nearest it can express. mmpose 1.x also shifts boxes by default.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.5, 1.5),
         rotate_factor=80., rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=_base_.codec['input_size']),
    dict(type='GenerateTarget', encoder=_base_.codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
