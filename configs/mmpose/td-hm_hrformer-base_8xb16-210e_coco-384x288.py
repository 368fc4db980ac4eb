# HRFormer-B (mmhrformer), top-down heatmap, COCO keypoints, 384x288.
# The paper's recipe: mmpose's top-down recipe with AdamW, 210 epochs, batch 128 in total.
# Inherits mmpose's own HRFormer-B config and swaps in our backbone.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_hrformer-base_8xb32-210e_coco-384x288.py']

custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhrformer.HRFormer',
        arch='base',
        drop_path_rate=0.3,
        out_indices=(0, ),  # the heatmap head takes the stride-4 stream
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        # ImageNet-pretrained weights: convert an official or mmpose checkpoint with
        # tools/convert_checkpoint.py ... --backbone-only, then set
        # init_cfg=dict(type='Pretrained', checkpoint='<converted file>')
        init_cfg=None),
    head=dict(in_channels=78))

train_dataloader = dict(batch_size=16)
auto_scale_lr = dict(base_batch_size=128)
