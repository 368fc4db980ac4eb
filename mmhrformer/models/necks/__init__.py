from .hrformer_cls_neck import HRFormerClsNeck

__all__ = ['HRFormerClsNeck']
