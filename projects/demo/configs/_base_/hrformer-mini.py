# "mini": the demos' HRFormer, a preset of our own with HRFormer-T's layout, narrower (channels
# 16-128), with a lighter stem (32 channels, one stage-1 bottleneck) and one block per module, to
# train in minutes on 2 CPU cores. The demo configs take it as `_base_.hrformer_mini`.
custom_imports = dict(imports=['mmhrformer'], allow_failed_imports=False)

hrformer_mini = dict(
    type='mmhrformer.HRFormer',
    arch=dict(channels=[16, 32, 64, 128], num_heads=[1, 2, 4, 8], mlp_ratios=[2, 2, 2, 2],
              num_modules=[1, 1, 1], num_blocks=[1, 1, 1], stem_channels=32, stage1_blocks=1),
    window_size=4)
