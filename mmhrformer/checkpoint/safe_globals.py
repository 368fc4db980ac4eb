"""Loading the checkpoints that mmengine writes, with torch's ``weights_only`` protection kept on.

Since torch 2.6, ``torch.load`` unpickles only tensors, containers and allow-listed types by
default. mmengine 0.10 loads with that default, but its own Runner checkpoints hold a few other
things: the ``message_hub``'s ``HistoryBuffer`` objects (numpy arrays inside), numpy scalars in
``meta`` (the random seed), and, inside each ``HistoryBuffer``, its statistics functions, pickled
as ``getattr(HistoryBuffer, 'mean')``. So ``resume=True`` of a Runner checkpoint fails with
``UnpicklingError: Weights only load failed``.

The fix has two narrow parts:

- what is saved is made plain: a ``HistoryBuffer`` is pickled without its statistics functions.
  They are class-level (shared by every buffer) and ``HistoryBuffer.__setstate__`` restores the
  defaults, while custom ones are registered again when the code that defines them is imported.
  Allowing ``getattr`` instead would let a file call any attribute of any allowed object.
- the remaining types are allow-listed, and no callable that could run code: numpy's array and
  scalar reconstructors only rebuild data from a dtype and bytes, and ``HistoryBuffer`` is
  restored by its own ``__setstate__`` from that plain state.

Turning ``weights_only`` off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` or a blanket
``weights_only=False``) would instead let any downloaded checkpoint run code when loaded.
"""
import copyreg
from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _numpy_globals() -> List[object]:
    """numpy's pickling entry points for arrays and scalars, and the numeric dtype classes."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    numeric = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
               np.uint64, np.float16, np.float32, np.float64]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *(type(np.dtype(t)) for t in numeric)]


#: Everything that mmengine's Runner checkpoints contain beyond torch's default allow-list.
MMENGINE_CHECKPOINT_GLOBALS = [HistoryBuffer, *_numpy_globals()]


def _reduce_history_buffer(buffer: HistoryBuffer):
    """Pickles a ``HistoryBuffer`` as its class and its data, without the statistics functions."""
    state = {k: v for k, v in vars(buffer).items() if k != 'statistics_methods'}
    return copyreg.__newobj__, (HistoryBuffer, ), state


def allow_mmengine_checkpoints() -> None:
    """Makes saved ``HistoryBuffer`` objects plain and adds :data:`MMENGINE_CHECKPOINT_GLOBALS`
    to torch's ``weights_only`` allow-list."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
