# HRFormer-S (mmhrformer) + OCR, ADE20K, 520x520 crops, 150k iterations, batch 8: the official
# recipe (seg/scripts/ade20k/hrt/run_hrt_small_ocr_v2_ohem.sh, seg/configs/ade20k/H_48_D_4.json);
# docs/recipes.md compares each value.
_base_ = ['./_base_/ocrnet_hrformer-small.py', 'mmseg::_base_/datasets/ade20k.py']

num_classes = 150
# OHEM on the OCR output only (the official fs_auxohemce_loss, no class weights): pixels whose
# true-class probability is below 0.9, at least 100000 per GPU batch of one image (the README's
# batch 8 on the scripts' 8 GPUs). mmseg's sampler keeps min_kept per image.
model = dict(
    decode_head=[
        dict(_base_.aux_head, num_classes=num_classes),
        dict(_base_.ocr_head, num_classes=num_classes,
             sampler=dict(type='OHEMPixelSampler', thresh=0.9, min_kept=100000)),
    ])

max_iters = 150000
param_scheduler = [_base_.param_scheduler[0], dict(_base_.param_scheduler[1], end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(checkpoint=dict(interval=max_iters // 10))

train_dataloader = dict(batch_size=2, dataset=dict(pipeline=_base_.train_pipeline_520))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline_original_size))
test_dataloader = val_dataloader
