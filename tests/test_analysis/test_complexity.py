from mmhrformer.analysis import count_flops_and_params
from mmhrformer.models.layers import DepthwiseConvFFN, LocalWindowAttention


def test_attention_flops_include_the_fused_attention_products():
    attn = LocalWindowAttention(8, num_heads=2, window_size=4)
    counted = count_flops_and_params(attn, (8, 8, 8))  # 1 x 8 x 8 x 8 map: 4 windows of 16
    tokens, channels, windows, length, heads = 64, 8, 4, 16, 2
    projections = tokens * channels * 3 * channels + tokens * channels * channels
    attention = windows * heads * length * length * 2 * (channels // heads)
    assert counted['flops'] == projections + attention
    assert counted['params'] == sum(p.numel() for p in attn.parameters())


def test_ffn_flops_count_its_convolutions_and_norms_at_inference():
    """The counter's rules: a multiply-add per weight and output pixel for the convolutions;
    2 per element (scale and shift) for each BatchNorm in eval mode."""
    ffn = DepthwiseConvFFN(8, 32)
    counted = count_flops_and_params(ffn, (8, 4, 4))
    pixels = 4 * 4
    convolutions = pixels * (8 * 32 + 32 * 9 + 32 * 8)
    norms = 2 * pixels * (32 + 32 + 8)
    assert counted['flops'] == convolutions + norms
