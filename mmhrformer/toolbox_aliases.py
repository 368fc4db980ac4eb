"""Bare names (``type='HRFormer'``) in the toolboxes that have no HRFormer of their own.

Where a toolbox config says ``type='HRFormer'``, the toolbox's own MODELS registry is asked first.
mmpretrain, mmsegmentation and mmdet have no class of that name, so ours is registered there too and
an HRNet config becomes an HRFormer one by editing the backbone dict alone. mmpose has its own
``HRFormer``: there the bare name keeps meaning mmpose's, and ours is ``mmhrformer.HRFormer``.

Nothing is replaced silently: if a toolbox already has a class of the name, we keep theirs and say
so; if a toolbox registers one after us, mmengine refuses it with a KeyError naming the clash.
"""
import importlib
import warnings

#: The toolboxes (by package name) where our classes are also known by their bare names.
TOOLBOXES_WITHOUT_HRFORMER = ('mmpretrain', 'mmseg', 'mmdet')


def toolbox_model_registry(toolbox: str):
    """The MODELS registry of an installed toolbox, or None where it is not installed."""
    try:
        return importlib.import_module(f'{toolbox}.registry').MODELS
    except ImportError:
        return None


def register_bare_names(classes: dict) -> None:
    """Registers ``classes`` (name -> class) in each installed toolbox of
    :data:`TOOLBOXES_WITHOUT_HRFORMER`."""
    for toolbox in TOOLBOXES_WITHOUT_HRFORMER:
        registry = toolbox_model_registry(toolbox)
        if registry is None:
            continue
        for name, cls in classes.items():
            if registry.module_dict.get(name, cls) is not cls:
                warnings.warn(f'{toolbox} already registers a {name!r}; there the bare name keeps '
                              f"meaning {toolbox}'s, use type='mmhrformer.{name}' for ours")
                continue
            registry.register_module(name=name, module=cls, force=True)
