"""mmhrformer: HRFormer (arXiv 2110.09408) for the OpenMMLab 2.0 toolboxes.

Importing the package (which configs do with ``custom_imports=dict(imports=['mmhrformer'])``)
registers the models under the scope ``mmhrformer`` and the bare names where no toolbox clashes,
registers ``BackboneOutputCheckHook`` (:mod:`.engine`), lets torch load the checkpoints that
mmengine itself writes, and makes every mmengine loading path refuse checkpoints that carry code
(see :mod:`.checkpoint`) before any config can name one.
"""
from . import engine  # noqa: F401  (registers BackboneOutputCheckHook)
from .checkpoint import allow_mmengine_checkpoints, guard_mmengine_loading
from .models import HRFormer, HRFormerClsNeck
from .toolbox_aliases import register_bare_names
from .version import __version__

allow_mmengine_checkpoints()
guard_mmengine_loading()
register_bare_names({'HRFormer': HRFormer, 'HRFormerClsNeck': HRFormerClsNeck})

__all__ = ['__version__', 'HRFormer', 'HRFormerClsNeck']
