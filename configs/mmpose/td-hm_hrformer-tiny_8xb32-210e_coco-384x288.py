# HRFormer-T (mmhrformer), top-down heatmap, COCO keypoints, 384x288: the HRFormer-S config (the
# paper's recipe, batch 256) with the tiny backbone. mmpose has no HRFormer-T config of its own.
_base_ = ['./td-hm_hrformer-small_8xb32-210e_coco-384x288.py']

model = dict(backbone=dict(arch='tiny'), head=dict(in_channels=18))
