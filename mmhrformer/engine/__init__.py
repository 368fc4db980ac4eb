"""Runner-level additions: hooks that the toolboxes' Runners build from ``custom_hooks``."""
from .hooks import BackboneOutputCheckHook, check_backbone_outputs

__all__ = ['BackboneOutputCheckHook', 'check_backbone_outputs']
