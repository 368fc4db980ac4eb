"""The HRFormer block with a training pass that keeps three maps of its width for backward.

In training, autograd keeps the input of almost every op of a block for the backward pass: in the
FFN six maps of ``mlp_ratio * C`` channels (the inputs of its BatchNorms, GELUs and convolutions),
in the attention the normalised windows, the packed query/key/value and, where the fused kernels
cannot return the gradient of the position bias (PyTorch's CPU kernels), the attention matrices.
:class:`MemorySavingHRFormerBlock` keeps the block's input, the map after the attention's residual
and the FFN's last convolution output (``3 * C`` channels per pixel) and recomputes the rest in
the backward pass, one part at a time (:func:`.recompute`):

- the attention branch, from the block's input: layer norm, windows, query/key/value and the
  attention; the output projection is not run again (recomputation stops once its input exists);
- the FFN up to its last convolution, from the map after the attention's residual: layer norm,
  ``fc1``, norm, GELU, depth-wise convolution, norm, GELU; ``fc2`` is not run again;
- the FFN's last norm and GELU, from ``fc2``'s output.

The FFN's BatchNorms reuse the batch statistics of the forward pass (for SyncBN: no second
synchronisation). Extra work: the query/key/value projection, the attention, ``fc1`` and the
depth-wise convolution once more per training step. Outputs and gradients are those of
:class:`.HRFormerBlock` (same parameters, same checkpoint keys).
"""
import torch

from mmhrformer.registry import MODELS
from .hrformer_block import HRFormerBlock
from .recompute import recompute


@MODELS.register_module()
class MemorySavingHRFormerBlock(HRFormerBlock):
    """:class:`.HRFormerBlock` (same arguments) that recomputes most of its training pass in the
    backward pass instead of keeping it (see module doc); with ``with_cp`` it checkpoints the whole
    block as :class:`.HRFormerBlock` does, and without gradients it is that block."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: ``B x C x H x W``. Returns: ``B x C x H x W``."""
        if self.with_cp or not torch.is_grad_enabled():
            return super().forward(x)
        tokens = x.permute(0, 2, 3, 1)  # B x H x W x C, a view
        attended = recompute(self._attention, tokens, preserve_rng_state=False)
        tokens = tokens + self.drop_path(attended)
        x = tokens.permute(0, 3, 1, 2)
        hidden = recompute(self._ffn_to_fc2, tokens, modules=[self.ffn], preserve_rng_state=False)
        out = recompute(self._ffn_last_norm, hidden, modules=[self.ffn], preserve_rng_state=False)
        return x + self.drop_path(out)

    def _attention(self, tokens: torch.Tensor) -> torch.Tensor:
        """``B x H x W x C`` -> the attention branch's output, the same shape."""
        return self.attn(self.norm1(tokens))

    def _ffn_to_fc2(self, tokens: torch.Tensor) -> torch.Tensor:
        """``B x H x W x C`` -> ``fc2``'s output, ``B x C x H x W``."""
        ffn = self.ffn
        hidden = self.norm2(tokens).permute(0, 3, 1, 2)
        for layer in (ffn.fc1, ffn.norm1, ffn.act1, ffn.dwconv, ffn.norm2, ffn.act2, ffn.fc2):
            hidden = layer(hidden)
        return hidden

    def _ffn_last_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """``fc2``'s output -> the FFN's output, ``B x C x H x W``."""
        return self.ffn.act3(self.ffn.norm3(hidden))
