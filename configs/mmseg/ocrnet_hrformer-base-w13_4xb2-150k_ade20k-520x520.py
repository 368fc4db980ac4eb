# HRFormer-B with 13x13 windows (mmhrformer) + OCR, ADE20K, 520x520, 150k iterations, batch 8:
# the official seg/scripts/ade20k/hrt/run_hrt_base_ocr_v2_ohem_w13.sh (backbone hrt_base_win13,
# drop path 0.2). It starts from the window-7 ImageNet weights.
_base_ = ['./ocrnet_hrformer-base_4xb2-150k_ade20k-520x520.py']

model = dict(backbone=dict(window_size=13))
