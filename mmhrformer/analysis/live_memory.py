"""Bytes of live tensors, counted as a GPU's allocator would see them, on any device.

:class:`LiveTensorBytes` is a dispatch mode: it sees every aten op that runs while it is active,
in the forward pass and in the backward pass alike, and records the storage of each tensor an op
returns. A storage it has not seen before, and that is not the storage of one of the op's inputs,
is new: its bytes (``UntypedStorage.nbytes()``) are added to the live count, and a weak reference
subtracts them when the storage is freed, whoever held it (a module, the autograd graph, a saved-
tensor hook, ``torch.utils.checkpoint``'s stash of its inputs). The live count after each op, and
its peak, are therefore exact sums of storages, independent of the allocator (what glibc or a
caching allocator holds besides) and of the device. Views share their base's storage and count
once; an op that grows a storage it returns (a resize) adds the growth.

What it leaves out, by design: storages that existed before the mode started (parameters, the
optimizer's state, the input batch), unless ops create new ones from them; and the scratch memory
inside a single kernel (a convolution's workspace), which no op returns. A GPU's allocator adds
to these figures its rounding (512-byte blocks) and such workspaces.
"""
import weakref
from typing import Dict

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def _storages(tree) -> Dict[int, torch.UntypedStorage]:
    """The storages of the dense tensors in ``tree`` (nested lists, tuples and dicts), by id."""
    return {id(storage): storage for storage in (
        leaf.untyped_storage() for leaf in tree_leaves(tree)
        if isinstance(leaf, torch.Tensor) and leaf.layout == torch.strided
        and leaf.device.type != 'meta')}


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of the tensors created while it is active and still alive.

    Attributes:
        live (int): bytes alive now.
        peak (int): the most bytes alive after any op since the start or :meth:`reset_peak`.

    Example::

        with LiveTensorBytes() as memory:
            loss = model(x).sum()
            kept = memory.live  # what the forward pass keeps for backward, and the loss
            loss.backward()
        print(kept, memory.peak)
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: Dict[int, int] = {}  # id of a tracked storage -> its bytes
        self._refs: Dict[int, weakref.ref] = {}

    def reset_peak(self) -> None:
        """Lets the peak start again from the bytes alive now."""
        self.peak = self.live

    def _freed(self, key: int, _ref: weakref.ref) -> None:
        self.live -= self._sizes.pop(key)
        del self._refs[key]

    def _track(self, key: int, storage: torch.UntypedStorage) -> None:
        if key not in self._refs:
            self._refs[key] = weakref.ref(storage, lambda ref, key=key: self._freed(key, ref))
            self._sizes[key] = 0
        size = storage.nbytes()
        self.live += size - self._sizes[key]
        self._sizes[key] = size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs = _storages((args, kwargs))
        out = func(*args, **(kwargs or {}))
        for key, storage in _storages(out).items():
            if key in self._refs or key not in inputs:
                self._track(key, storage)
        self.peak = max(self.peak, self.live)
        return out
