# HRFormer-B with 15x15 windows (mmhrformer) + OCR, Cityscapes, 512x1024, 80k iterations,
# batch 8: the official seg/scripts/cityscapes/hrt/run_hrt_base_ocr_v2_ohem_w15.sh (backbone
# hrt_base_win15, drop path 0.4). It starts from the window-7 ImageNet weights.
_base_ = ['./ocrnet_hrformer-base_4xb2-80k_cityscapes-512x1024.py']

model = dict(backbone=dict(window_size=15))
