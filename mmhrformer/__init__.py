"""mmhrformer: HRFormer (arXiv 2110.09408) for the OpenMMLab 2.0 toolboxes.

Importing the package (which configs do with ``custom_imports=dict(imports=['mmhrformer'])``)
registers the models under the scope ``mmhrformer`` and the bare names where no toolbox clashes,
and lets torch load the checkpoints that mmengine itself writes (see :mod:`.checkpoint`).
"""
from .checkpoint import allow_mmengine_checkpoints
from .models import HRFormer, HRFormerClsNeck
from .toolbox_aliases import register_bare_names
from .version import __version__

allow_mmengine_checkpoints()
register_bare_names({'HRFormer': HRFormer, 'HRFormerClsNeck': HRFormerClsNeck})

__all__ = ['__version__', 'HRFormer', 'HRFormerClsNeck']
