"""The published DALL-E dVAE encoder (Ramesh et al. 2021), the tokenizer of BEiT and CAE.

The modules are named as in OpenAI's ``dall_e`` package (``blocks.input.w``,
``blocks.group_2.block_1.id_path.w``, ``...res_path.conv_1.w``, ``blocks.output.conv.b``), so
the published weights load as they are once unpickled into a state dict:
``tools/model_converters/dalle_to_mimlab.py`` turns https://cdn.openai.com/dall-e/encoder.pkl
(a pickled module) into such a file.
"""
import os.path as osp
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mimlab.registry import MODELS

DALLE_ENCODER_URL = 'https://cdn.openai.com/dall-e/encoder.pkl'
LOGIT_LAPLACE_EPS = 0.1


class DALLEConv2d(nn.Module):
    """A convolution with parameters ``w`` (out, in, k, k) and ``b`` (out,), 'same' padding."""

    def __init__(self, n_in: int, n_out: int, kernel: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_out, n_in, kernel, kernel) / (n_in * kernel ** 2)
                              ** 0.5)
        self.b = nn.Parameter(torch.zeros(n_out))
        self.padding = (kernel - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.w, self.b, padding=self.padding)


class DALLEEncoderBlock(nn.Module):
    """``id_path(x) + post_gain * res_path(x)``, a bottleneck of four convolutions."""

    def __init__(self, n_in: int, n_out: int, n_layers: int) -> None:
        super().__init__()
        n_hid = n_out // 4
        self.post_gain = 1 / n_layers ** 2
        self.id_path = DALLEConv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.res_path = nn.Sequential(OrderedDict([
            ('relu_1', nn.ReLU()), ('conv_1', DALLEConv2d(n_in, n_hid, 3)),
            ('relu_2', nn.ReLU()), ('conv_2', DALLEConv2d(n_hid, n_hid, 3)),
            ('relu_3', nn.ReLU()), ('conv_3', DALLEConv2d(n_hid, n_hid, 3)),
            ('relu_4', nn.ReLU()), ('conv_4', DALLEConv2d(n_hid, n_out, 1)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.id_path(x) + self.post_gain * self.res_path(x)


@MODELS.register_module()
class DALLEEncoder(BaseModule):
    """DALL-E's dVAE encoder as a tokenizer: ``encode(images) -> token ids``, one id per 8 x 8
    pixels (a 112-px view gives the 14 x 14 ids of a 224-px ViT-B/16). The published model has
    no ``decode`` here: only its encoder is needed for targets.

    Inputs are (B, 3, H, W) in [0, 1], mapped as DALL-E's ``map_pixels`` does (logit-Laplace:
    ``(1 - 2 eps) x + eps``, eps = 0.1).

    Args:
        group_count, n_hid, n_blk_per_group, vocab_size: the published model's sizes (4, 256,
            2, 8192); smaller ones for tests.
        init_cfg: ``dict(type='Pretrained', checkpoint=FILE)``, FILE a state dict in the published
            key layout (see ``tools/model_converters/dalle_to_mimlab.py``). A missing FILE is an
            error that says where the weights come from.
    """

    def __init__(self, group_count: int = 4, n_hid: int = 256, n_blk_per_group: int = 2,
                 vocab_size: int = 8192, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.vocab_size = vocab_size
        self.downsample = 2 ** (group_count - 1)
        n_layers = group_count * n_blk_per_group
        groups = [('input', DALLEConv2d(3, n_hid, 7))]
        width = n_hid
        for g in range(group_count):
            out = n_hid * 2 ** g
            blocks = [(f'block_{i + 1}', DALLEEncoderBlock(width if i == 0 else out, out, n_layers))
                      for i in range(n_blk_per_group)]
            width = out
            if g < group_count - 1:
                blocks.append(('pool', nn.MaxPool2d(kernel_size=2)))
            groups.append((f'group_{g + 1}', nn.Sequential(OrderedDict(blocks))))
        groups.append(('output', nn.Sequential(OrderedDict([
            ('relu', nn.ReLU()), ('conv', DALLEConv2d(width, vocab_size, 1))]))))
        self.blocks = nn.Sequential(OrderedDict(groups))

    def init_weights(self) -> None:
        cfg = self.init_cfg or {}
        checkpoint = cfg.get('checkpoint') if cfg.get('type') == 'Pretrained' else None
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'DALL-E encoder weights {checkpoint} do not exist. '
                                    f'{self.missing_weights_hint(checkpoint)}')
        super().init_weights()

    @staticmethod
    def missing_weights_hint(checkpoint: str) -> str:
        """Where the weights file ``checkpoint`` comes from (for an error saying it is missing)."""
        return (f'Download OpenAI\'s DALL-E encoder ({DALLE_ENCODER_URL}) and convert it with '
                f'python tools/model_converters/dalle_to_mimlab.py encoder.pkl {checkpoint} '
                '--unsafe-load (the published file is a pickled module)')

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, vocab, H / 8, W / 8)."""
        if images.shape[1] != 3 or images.shape[-1] % self.downsample or \
                images.shape[-2] % self.downsample:
            raise ValueError(f'the DALL-E encoder expects 3-channel images with sides divisible '
                             f'by {self.downsample}, got {tuple(images.shape)}')
        x = (1 - 2 * LOGIT_LAPLACE_EPS) * images.float() + LOGIT_LAPLACE_EPS
        return self.blocks(x)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, H / 8, W / 8) long token ids."""
        return self.logits(images).argmax(dim=1)
