# HRFormer-T (mmhrformer), top-down heatmap, COCO keypoints, 256x192: the HRFormer-S config (the
# official recipe, batch 256) with the tiny backbone. Neither the official code nor mmpose has
# an HRFormer-T pose model.
_base_ = ['./td-hm_hrformer-small_8xb32-210e_coco-256x192.py']

model = dict(
    backbone=dict(
        arch='tiny',
        # The official ImageNet HRFormer-T (hrt_tiny.pth) is published only behind a OneDrive
        # share link (README, "Checkpoints"): download it to this path first.
        init_cfg=dict(type='Pretrained', checkpoint='data/pretrained/hrt_tiny.pth')),
    head=dict(in_channels=18))
