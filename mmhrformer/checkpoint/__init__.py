from .convert import convert_checkpoint, convert_mmpose, convert_official, convert_state_dict
from .pretrained import CheckpointKeysError, load_pretrained_backbone
from .relative_position_bias import resize_relative_position_bias_table
from .safe_globals import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints
from .safe_loading import (CheckpointReadError, UnsafeCheckpointError, guard_mmengine_loading,
                           load_checkpoint_file)

__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'CheckpointKeysError', 'CheckpointReadError',
           'UnsafeCheckpointError', 'allow_mmengine_checkpoints', 'convert_checkpoint',
           'convert_mmpose', 'convert_official', 'convert_state_dict', 'guard_mmengine_loading',
           'load_checkpoint_file', 'load_pretrained_backbone',
           'resize_relative_position_bias_table']
