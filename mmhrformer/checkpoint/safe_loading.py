"""Loading checkpoint files with torch's ``weights_only`` protection on, and errors that name the
file.

Every way a user loads weights into an OpenMMLab model goes through mmengine's ``CheckpointLoader``:
``load_from``, ``resume``, ``init_cfg=dict(type='Pretrained', checkpoint=...)``, the toolboxes'
``init_model``. With torch >= 2.6 its loader of local files unpickles with ``weights_only=True``
(torch's default), but two things are left to fix:

- its URL schemes (``http(s)://``, and ``torchvision://``, ``open-mmlab://``, ``mmcls://``, which
  resolve to URLs) download through ``torch.hub.load_state_dict_from_url``, whose default is
  ``weights_only=False``: a downloaded checkpoint could run code when loaded;
- a refused or damaged file ends in an error of pickle or of torch's zip reader that does not say
  which file, nor what to do.

:func:`guard_mmengine_loading` routes both through :func:`load_checkpoint_file`. The only way to
load a file that holds more than tensors and allow-listed types is an explicit choice: a plain copy
written by ``tools/convert_checkpoint.py --trust``, or, for one job, torch's own
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (which :func:`load_checkpoint_file` leaves in effect by not
passing ``weights_only`` unless trusted).
"""
import contextlib
import os
import pickle
import re
import zipfile
from typing import Iterator, Optional
from urllib.parse import urlparse

import torch
from mmengine.runner import checkpoint as mmengine_checkpoint

#: How torch's legacy (pre-1.6, non-zip) format begins, whatever the pickle protocol >= 2:
#: a LONG1 opcode with its 10-byte magic number.
_LEGACY_MARK = b'\x8a\n' + torch.serialization.MAGIC_NUMBER.to_bytes(10, 'little')
_HEADER_BYTES = 32
_UNSAFE_GLOBAL = re.compile(r'GLOBAL (\S+)')

_TRUST_HINT = (
    'If you trust where it comes from, write a plain copy once (this runs the code in the file): '
    'python tools/convert_checkpoint.py {path} PLAIN.pth --from mmhrformer --trust '
    '(or --from mmpose / official for those layouts), then load PLAIN.pth. To resume such a '
    'file as it is, run that one job with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, which turns the '
    'protection off for every checkpoint the job loads.')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file holds pickled objects outside torch's ``weights_only`` allow-list: unpickling it
    could run code, so it was not loaded."""


class CheckpointReadError(RuntimeError):
    """The file could not be read as a checkpoint: truncated, damaged, or not written by
    ``torch.save``."""


def load_checkpoint_file(path: str, map_location=None, trust: bool = False):
    """``torch.load(path)`` with the ``weights_only`` protection on, unless ``trust``.

    Args:
        path: a checkpoint file written by ``torch.save``.
        map_location: as for ``torch.load``.
        trust: unpickle everything in the file (``weights_only=False``), which runs any code it
            holds. Only for files from a source you trust.

    Raises:
        UnsafeCheckpointError: the file holds objects outside the allow-list.
        CheckpointReadError: the file is truncated, damaged or of another kind.
    """
    with _errors_naming(path):
        # weights_only=None keeps torch's default, and with it TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
        return torch.load(path, map_location=map_location, weights_only=False if trust else None)


def load_from_local(filename: str, map_location=None):
    """mmengine's loader of local files (the scheme ``''``), with :func:`load_checkpoint_file`."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_checkpoint_file(filename, map_location)


def load_url(url: str, model_dir: Optional[str] = None, map_location=None, progress: bool = True,
             check_hash: bool = False, file_name: Optional[str] = None):
    """mmengine's ``load_url``: torch.hub's download cache, then :func:`load_checkpoint_file`'s
    protection instead of torch.hub's ``weights_only=False``."""
    model_dir = model_dir or os.path.join(torch.hub.get_dir(), 'checkpoints')
    cached = os.path.join(model_dir, file_name or os.path.basename(urlparse(url).path))
    with _errors_naming(cached):
        # None passes torch.load's own default on, as load_checkpoint_file does
        return torch.hub.load_state_dict_from_url(url, model_dir, map_location, progress,
                                                  check_hash, file_name, weights_only=None)


def guard_mmengine_loading() -> None:
    """Makes mmengine load every checkpoint through :func:`load_checkpoint_file`: local files by
    replacing the loader of the scheme ``''``, URLs by replacing the ``load_url`` that the URL
    schemes of ``mmengine.runner.checkpoint`` call."""
    mmengine_checkpoint.CheckpointLoader.register_scheme('', load_from_local, force=True)
    mmengine_checkpoint.load_url = load_url


@contextlib.contextmanager
def _errors_naming(path: str) -> Iterator[None]:
    try:
        yield
    except OSError:  # a missing or unreadable file: the system's message names it already
        raise
    except Exception as error:  # noqa: B902  (a damaged file fails in any of pickle's ways)
        # torch's own message suggests allow-listing the offending globals, which for a file of
        # unknown origin is the wrong advice: ours replaces it.
        raise _explained(path, error) from None


def _explained(path: str, error: Exception) -> Exception:
    if not _is_torch_save_file(path):
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        return CheckpointReadError(
            f'{path} is not a checkpoint: it is neither a zip archive written by torch.save nor '
            f"torch's legacy format ({size} bytes). A download or copy that stopped early, or a "
            'file of another kind, looks like this: download or save it again.')
    if isinstance(error, pickle.UnpicklingError):
        names = sorted(set(_UNSAFE_GLOBAL.findall(str(error))))
        found = f' ({", ".join(names)})' if names else ''
        return UnsafeCheckpointError(
            f'{path} is not a plain checkpoint (weights only load failed): it holds pickled '
            f'objects outside the allow-list of torch.load(weights_only=True){found}, and '
            'unpickling them could run code from the file, so it was not loaded. '
            + _TRUST_HINT.format(path=path))
    return CheckpointReadError(f'{path} could not be read as a checkpoint: {error}')


def _is_torch_save_file(path: str) -> bool:
    """Whether the file has the envelope of ``torch.save``'s output (a zip archive, whose
    directory sits at the end, or the legacy format's magic number at the start)."""
    if not os.path.isfile(path):
        return False
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as file:
        return _LEGACY_MARK in file.read(_HEADER_BYTES)
