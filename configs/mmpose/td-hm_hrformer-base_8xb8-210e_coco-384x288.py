# HRFormer-B (mmhrformer), top-down heatmap, COCO keypoints, 384x288: the official recipe
# (pose/configs/top_down/hrt/coco/hrt_base_coco_384x288.py): drop path 0.3 and batch 64
# (8 GPUs x 8) at the same learning rate, 5e-4 (mmpose's own config: drop path 0.2, batch 256).
_base_ = ['./td-hm_hrformer-small_8xb32-210e_coco-384x288.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    head=dict(in_channels=78))

train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=64)  # 5e-4 was the official rate at batch 64
