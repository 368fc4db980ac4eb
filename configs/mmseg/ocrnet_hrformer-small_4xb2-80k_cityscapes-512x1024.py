# HRFormer-S (mmhrformer) + OCR, Cityscapes, 512x1024 crops, 80k iterations, batch 8: the
# official recipe (seg/scripts/cityscapes/hrt/run_hrt_small_ocr_v2_ohem.sh,
# seg/configs/cityscapes/H_48_D_4.json); docs/recipes.md compares each value.
_base_ = ['./_base_/ocrnet_hrformer-small.py', 'mmseg::_base_/datasets/cityscapes.py']

num_classes = 19
# The official class weights of seg/configs/cityscapes/H_48_D_4.json (both losses).
class_weight = [0.8373, 0.9180, 0.8660, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]
# OHEM on the OCR output only (the official fs_auxohemce_loss): pixels whose true-class
# probability is below 0.9, at least 100000 per GPU batch of one image. mmseg's sampler keeps
# min_kept per image.
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=[
        dict(_base_.aux_head, num_classes=num_classes,
             loss_decode=dict(_base_.aux_head.loss_decode, class_weight=class_weight)),
        dict(_base_.ocr_head, num_classes=num_classes,
             loss_decode=dict(_base_.ocr_head.loss_decode, class_weight=class_weight),
             sampler=dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)),
    ])

# The official transforms: random scale 0.5-2 of the 2048x1024 image, a random 512x1024 crop
# (no check of the classes in it), flip, brightness shift of up to 10; test on the whole
# 2048x1024 image (mmseg's Cityscapes test pipeline and OCR's whole-image mode).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=10, contrast_range=(1.0, 1.0),
         saturation_range=(1.0, 1.0), hue_delta=1),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
