# HRFormer-B (mmhrformer) + OCR, ADE20K, 520x520, 150k iterations, batch 8: the HRFormer-S
# config with the base backbone, as the official seg/scripts/ade20k/hrt/run_hrt_base_ocr_v2_ohem.sh.
_base_ = ['./ocrnet_hrformer-small_4xb2-150k_ade20k-520x520.py']

in_channels = [78, 156, 312, 624]
model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(type='Pretrained',
                      checkpoint='https://download.openmmlab.com/mmpose/pretrain_models/'
                      'hrformer_base-32815020_20220226.pth')),
    decode_head=[dict(head, in_channels=in_channels) for head in _base_.model.decode_head])
