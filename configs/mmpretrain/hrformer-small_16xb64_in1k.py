# HRFormer-S (mmhrformer) ImageNet-1K classifier, 224x224: the tiny config's recipe
# (the paper's) with the small backbone.
_base_ = ['./hrformer-tiny_16xb64_in1k.py']

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 128, 256]))
