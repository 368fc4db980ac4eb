# HRFormer-B (mmhrformer) + OCR, Cityscapes, 512x1024, 80k iterations, batch 8: the HRFormer-S
# config with the base backbone and drop path 0.4, as the official
# seg/scripts/cityscapes/hrt/run_hrt_base_ocr_v2_ohem.sh (export drop_path_rate=0.4).
_base_ = ['./ocrnet_hrformer-small_4xb2-80k_cityscapes-512x1024.py']

in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    decode_head=[dict(head, in_channels=in_channels) for head in _base_.model.decode_head])
