"""The masked encoder of MAE-style pretraining: the same ViT, fed only the visible patches."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mimlab.registry import MODELS
from ..utils import EncoderOutput, PatchMask, generate_mask, num_masked_patches
from ..utils.masking import MASK_MODES, grid_stride, seeded_masks
from .vision_transformer import VisionTransformer


@MODELS.register_module()
class MaskedViT(VisionTransformer):
    """ViT encoder that masks its input: patches -> +positions -> drop masked -> +cls -> blocks.

    It adds no parameters to :class:`VisionTransformer` (unless ``mask_tokens``), so its
    checkpoint keys are the plain ViT's. Extra args (the rest as :class:`VisionTransformer`):

    Args:
        mask_ratio: fraction of patches removed, in (0, 1).
        mask_mode: 'random' (MAE), 'block' or 'grid' (see :func:`generate_mask`).
        block_min_patches, block_max_aspect: the smallest rectangle and the largest aspect ratio
            of 'block' masking (BEiT/CAE: 16 patches, 1 / 0.3).
        mask_tokens: MAE's "encoder w/ [M]" ablation: removed patches are replaced by a learnable
            mask token (plus their position) and the encoder runs on all L patches. The output
            keeps the visible-only layout's order (kept patches first, then removed, undone by
            ``ids_restore``), so the decoder takes the encoder's L tokens and adds none of its
            own. Adds the parameter ``mask_token`` (not in the downstream ViT).
    """

    def __init__(self, mask_ratio: float = 0.75, mask_mode: str = 'random',
                 block_min_patches: int = 16, block_max_aspect: float = 1 / 0.3,
                 mask_tokens: bool = False, **kwargs) -> None:
        kwargs.setdefault('out_type', 'raw')
        super().__init__(**kwargs)
        num_masked_patches(self.patch_embed.num_patches, mask_ratio)  # validates the ratio
        if mask_mode not in MASK_MODES:
            raise ValueError(f'backbone mask_mode {mask_mode!r} is not one of {MASK_MODES}')
        if mask_mode == 'grid':
            grid_stride(mask_ratio)
        if block_min_patches < 1 or block_max_aspect < 1:
            raise ValueError('backbone block_min_patches must be >= 1 and block_max_aspect >= 1, '
                             f'got {block_min_patches} and {block_max_aspect}')
        self.mask_ratio = mask_ratio
        self.mask_mode = mask_mode
        self.block_options = dict(min_block=block_min_patches, max_aspect=block_max_aspect)
        self.mask_tokens = mask_tokens
        if mask_tokens:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
            nn.init.normal_(self.mask_token, std=0.02)

    def seeded_mask(self, images: torch.Tensor, seeds: Sequence[int]) -> PatchMask:
        """This encoder's mask for each of ``images`` (B, C, H, W), drawn from ``seeds[i]``
        alone (:func:`~mimlab.models.utils.masking.seeded_masks`): held-out evaluation masks
        an image the same way in any batch and on any number of processes."""
        patch = self.patch_embed.patch_size
        ph, pw = (patch, patch) if isinstance(patch, int) else patch
        grid = (images.shape[-2] // ph, images.shape[-1] // pw)
        mode_options = self.block_options if self.mask_mode == 'block' else {}
        return seeded_masks(seeds, grid, self.mask_ratio, self.mask_mode, images.device,
                            **mode_options)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """As :class:`VisionTransformer`, with the encoder's mask token among the embeddings."""
        name = param_name[len(prefix):] if param_name.startswith(prefix) else param_name
        if name == 'mask_token':
            return 0, self.depth + 2
        return super().get_layer_depth(param_name, prefix)

    def forward(self, images: torch.Tensor, mask: bool = True,
                hidden_layers: Sequence[int] = (),
                generator: Optional[torch.Generator] = None,
                patch_mask: Optional[PatchMask] = None) -> EncoderOutput:
        """Encode a batch.

        Args:
            images: (B, C, H, W), normalised.
            mask: remove ``mask_ratio`` of the patches (False: encode all of them).
            hidden_layers: blocks whose outputs to return in ``hidden_states`` (for fusion necks).
            generator: random generator for the mask (None: torch's global RNG).
            patch_mask: use this mask instead of drawing one (e.g. its ``complement()``).

        Returns:
            EncoderOutput with tokens (B, 1 + L_keep, D); with ``mask_tokens`` (B, 1 + L, D),
            kept patches first.
        """
        if not mask:
            return self.encode(images, hidden_layers)
        x, grid = self.embed(images)
        if patch_mask is None:
            patch_mask = generate_mask(x.shape[0], grid, self.mask_ratio, self.mask_mode,
                                       generator=generator, device=x.device,
                                       **self.block_options)
        if self.mask_tokens:
            # the mask token takes the removed patches' places (their positions added), and the
            # sequence is put in the [kept, removed] order that ids_restore undoes
            positions = self.pos_embed_for(grid)[:, self.num_prefix_tokens:]
            x = torch.where(patch_mask.mask.unsqueeze(-1), self.mask_token + positions, x)
            x = torch.cat([patch_mask.keep(x), patch_mask.removed(x)], dim=1)
        else:
            x = patch_mask.keep(x)
        tokens, hidden = self.run_blocks(self.with_cls_token(x), hidden_layers)
        return EncoderOutput(tokens=tokens, patch_mask=patch_mask, hidden_states=hidden)
