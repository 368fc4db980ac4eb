from .conv_basic_block import ConvBasicBlock
from .depthwise_conv_ffn import DepthwiseConvFFN
from .folded_conv_modules import FoldedBottleneck, FoldedConvModule
from .hrformer_block import HRFormerBlock
from .local_window_attention import LocalWindowAttention
from .multi_resolution_fusion import MultiResolutionFusion
from .multi_resolution_module import MultiResolutionModule

__all__ = ['ConvBasicBlock', 'DepthwiseConvFFN', 'FoldedBottleneck', 'FoldedConvModule',
           'HRFormerBlock', 'LocalWindowAttention', 'MultiResolutionFusion',
           'MultiResolutionModule']
