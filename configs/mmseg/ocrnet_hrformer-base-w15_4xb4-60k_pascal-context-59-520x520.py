# HRFormer-B with 15x15 windows (mmhrformer) + OCR, Pascal Context (59 classes), 520x520, 60k
# iterations, batch 16: the official seg/scripts/pascal_context/hrt/run_hrt_base_ocr_v2_ohem_w15.sh
# (backbone hrt_base_win15, drop path 0.3). It starts from the window-7 ImageNet weights.
_base_ = ['./ocrnet_hrformer-base_4xb4-60k_pascal-context-59-520x520.py']

model = dict(backbone=dict(window_size=15, drop_path_rate=0.3))
