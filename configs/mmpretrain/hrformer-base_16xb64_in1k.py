# HRFormer-B (mmhrformer) ImageNet-1K classifier, 224x224: the tiny config's recipe
# (the paper's) with the base backbone.
_base_ = ['./hrformer-tiny_16xb64_in1k.py']

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.2),
    neck=dict(in_channels=[78, 156, 312, 624]))
