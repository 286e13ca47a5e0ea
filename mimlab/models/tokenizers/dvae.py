"""A DALL-E-style discrete VAE that mimlab trains itself (Gumbel-softmax relaxation)."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mimlab.registry import MODELS


class _ResBlock(nn.Module):

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@MODELS.register_module()
class DiscreteVAE(BaseModule):
    """Convolutional discrete VAE: images -> a grid of logits over ``vocab_size`` codes (one
    position per ``2 ** num_downsamples`` pixels); a code's learnt embedding -> decoder -> image.

    Training relaxes the code choice with Gumbel-softmax (:meth:`relaxed_forward`); tokenizing
    takes the most likely code. Images are (B, C, H, W) in [0, 1]; the decoder regresses them
    (mean squared error in training) and ``decode`` clips to [0, 1].

    Args:
        vocab_size: codes in the codebook.
        hidden_dim: channels of the convolutional encoder and decoder.
        code_dim: width of a code's embedding.
        num_downsamples: stride-2 stages; a token covers ``2 ** num_downsamples`` pixels a side.
        num_res_blocks: residual blocks after the down- and before the up-sampling.
        in_chans: image channels.
    """

    @staticmethod
    def missing_weights_hint(checkpoint: str) -> str:
        """Where the weights file ``checkpoint`` comes from (for an error saying it is missing)."""
        return ('Train the tokenizer first (the demo dVAE: configs/dvae/, docs/cae.md) or point '
                'the key at its checkpoint')

    def __init__(self, vocab_size: int = 8192, hidden_dim: int = 64, code_dim: int = 64,
                 num_downsamples: int = 3, num_res_blocks: int = 1, in_chans: int = 3,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if vocab_size < 2 or num_downsamples < 1:
            raise ValueError('tokenizer vocab_size must be >= 2 and num_downsamples >= 1, got '
                             f'{vocab_size} and {num_downsamples}')
        self.vocab_size = vocab_size
        self.downsample = 2 ** num_downsamples
        self.in_chans = in_chans
        down, up = [], []
        for i in range(num_downsamples):
            down += [nn.Conv2d(in_chans if i == 0 else hidden_dim, hidden_dim, 4, 2, 1),
                     nn.ReLU()]
            up += [nn.ConvTranspose2d(hidden_dim, hidden_dim, 4, 2, 1), nn.ReLU()]
        res = [_ResBlock(hidden_dim) for _ in range(num_res_blocks)]
        self.encoder = nn.Sequential(*down, *res, nn.ReLU(), nn.Conv2d(hidden_dim, vocab_size, 1))
        self.codebook = nn.Embedding(vocab_size, code_dim)
        self.decoder = nn.Sequential(nn.Conv2d(code_dim, hidden_dim, 3, padding=1),
                                     *[_ResBlock(hidden_dim) for _ in range(num_res_blocks)],
                                     nn.ReLU(), *up[:-1], nn.Conv2d(hidden_dim, in_chans, 1))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, vocab, H / d, W / d) code logits."""
        if images.shape[1] != self.in_chans or images.shape[-1] % self.downsample or \
                images.shape[-2] % self.downsample:
            raise ValueError(f'the tokenizer expects {self.in_chans}-channel images with sides '
                             f'divisible by {self.downsample}, got {tuple(images.shape)}')
        return self.encoder(images * 2.0 - 1.0)

    def _decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        # a linear output (a sigmoid saturates on dark grounds and stops learning)
        return self.decoder(codes)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, H / d, W / d) long token ids."""
        return self.logits(images).argmax(dim=1)

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, h, w) token ids -> (B, C, h * d, w * d) images in [0, 1]."""
        return self._decode_codes(self.codebook(ids).permute(0, 3, 1, 2)).clamp(0.0, 1.0)

    def relaxed_forward(self, images: torch.Tensor, temperature: float,
                        hard: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gumbel-softmax pass for training: (reconstruction, not clipped; code logits)."""
        logits = self.logits(images)
        soft = F.gumbel_softmax(logits, tau=temperature, hard=hard, dim=1)
        codes = torch.einsum('bkhw,kd->bdhw', soft, self.codebook.weight)
        return self._decode_codes(codes), logits
