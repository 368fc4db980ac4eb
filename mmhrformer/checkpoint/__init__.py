from .convert import convert_mmpose, convert_official, convert_state_dict
from .safe_globals import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints

__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints', 'convert_mmpose',
           'convert_official', 'convert_state_dict']
