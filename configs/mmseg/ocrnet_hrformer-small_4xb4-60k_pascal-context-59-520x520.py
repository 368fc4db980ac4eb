# HRFormer-S (mmhrformer) + OCR, Pascal Context (59 classes), 520x520 crops, 60k iterations,
# batch 16: the official recipe (seg/scripts/pascal_context/hrt/run_hrt_small_ocr_v2_ohem.sh,
# seg/configs/pascal_context/H_48_D_4.json); docs/recipes.md compares each value.
_base_ = ['./_base_/ocrnet_hrformer-small.py', 'mmseg::_base_/datasets/pascal_context_59.py']

num_classes = 59
# The official script trains with plain cross-entropy here (loss fs_auxce_loss): no OHEM,
# although the README's table says OHEM.
model = dict(
    data_preprocessor=dict(size=_base_.crop_520),
    decode_head=[dict(_base_.aux_head, num_classes=num_classes),
                 dict(_base_.ocr_head, num_classes=num_classes)])

max_iters = 60000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 10))

train_dataloader = dict(batch_size=4, dataset=dict(pipeline=_base_.train_pipeline_520))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline_original_size))
test_dataloader = val_dataloader
