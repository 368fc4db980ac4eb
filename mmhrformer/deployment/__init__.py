"""Running trained models outside training: loading a config's model with its weights, and
export to ONNX (:mod:`.onnx_export`, needs the ``onnx`` and ``onnxruntime`` packages)."""
from .inference_model import build_inference_model
from .onnx_export import export_onnx, relative_difference

__all__ = ['build_inference_model', 'export_onnx', 'relative_difference']
