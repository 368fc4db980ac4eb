from .complexity import count_flops_and_params

__all__ = ['count_flops_and_params']
