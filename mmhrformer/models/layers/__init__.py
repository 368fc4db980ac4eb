from .conv_basic_block import ConvBasicBlock
from .depthwise_conv_ffn import DepthwiseConvFFN
from .hrformer_block import HRFormerBlock
from .local_window_attention import LocalWindowAttention
from .memory_saving_block import MemorySavingHRFormerBlock
from .multi_resolution_fusion import MultiResolutionFusion
from .multi_resolution_module import MultiResolutionModule

__all__ = ['ConvBasicBlock', 'DepthwiseConvFFN', 'HRFormerBlock', 'LocalWindowAttention',
           'MemorySavingHRFormerBlock', 'MultiResolutionFusion', 'MultiResolutionModule']
