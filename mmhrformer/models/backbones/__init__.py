from .hrformer import HRFormer

__all__ = ['HRFormer']
