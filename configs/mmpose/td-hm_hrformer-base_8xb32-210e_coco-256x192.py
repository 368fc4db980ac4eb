# HRFormer-B (mmhrformer), top-down heatmap, COCO keypoints, 256x192: the official recipe
# (pose/configs/top_down/hrt/coco/hrt_base_coco_256x192.py): the HRFormer-S one with the base
# backbone and drop path 0.2, batch 256 (8 GPUs x 32).
_base_ = ['./td-hm_hrformer-small_8xb32-210e_coco-256x192.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    head=dict(in_channels=78))
