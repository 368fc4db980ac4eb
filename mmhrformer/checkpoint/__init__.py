from .convert import convert_checkpoint, convert_mmpose, convert_official, convert_state_dict
from .safe_globals import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints
from .safe_loading import (CheckpointReadError, UnsafeCheckpointError, guard_mmengine_loading,
                           load_checkpoint_file)

__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'CheckpointReadError', 'UnsafeCheckpointError',
           'allow_mmengine_checkpoints', 'convert_checkpoint', 'convert_mmpose', 'convert_official',
           'convert_state_dict', 'guard_mmengine_loading', 'load_checkpoint_file']
