from .backbone_output_check_hook import BackboneOutputCheckHook, check_backbone_outputs

__all__ = ['BackboneOutputCheckHook', 'check_backbone_outputs']
