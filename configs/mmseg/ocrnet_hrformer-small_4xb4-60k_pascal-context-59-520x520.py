# HRFormer-S (mmhrformer) + OCR, Pascal Context (59 classes), 520x520 crops, 60k iterations,
# batch 16: the official recipe (seg/scripts/pascal_context/hrt/run_hrt_small_ocr_v2_ohem.sh,
# seg/configs/pascal_context/H_48_D_4.json); docs/recipes.md compares each value.
_base_ = ['./_base_/ocrnet_hrformer-small.py', 'mmseg::_base_/datasets/pascal_context_59.py']

num_classes = 59
# The official script trains with plain cross-entropy here (loss fs_auxce_loss): no OHEM,
# although the README's table says OHEM.
model = dict(
    decode_head=[dict(_base_.aux_head, num_classes=num_classes),
                 dict(_base_.ocr_head, num_classes=num_classes)])

max_iters = 60000
param_scheduler = [_base_.param_scheduler[0], dict(_base_.param_scheduler[1], end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(checkpoint=dict(interval=max_iters // 10))

train_dataloader = dict(batch_size=4, dataset=dict(pipeline=_base_.train_pipeline_520))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline_original_size))
test_dataloader = val_dataloader
