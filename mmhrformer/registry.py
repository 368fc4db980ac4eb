"""The registry of mmhrformer and its place among the OpenMMLab toolboxes.

``MODELS`` is a child of mmengine's root model registry with the scope ``mmhrformer``. mmengine
finds a sibling registry by its scope, so once this package is imported,
``type='mmhrformer.HRFormer'`` builds from the MODELS registry of any toolbox (mmpretrain, mmpose,
mmseg, mmdet).

For the bare names (``type='HRFormer'``) see :mod:`mmhrformer.toolbox_aliases`.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='mmhrformer', locations=['mmhrformer.models'])
