"""Image classification with a ViT encoder: supervised training, fine-tuning a pretrained encoder
(end to end, partially, or with mixup/cutmix) and linear probing (frozen encoder)."""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn

from mimlab.registry import MODELS
from .base import BaseAlgorithm
from .fusion import FusionNeckMixin

LAST_MLP = 'last_mlp'


@MODELS.register_module()
class ImageClassifier(FusionNeckMixin, BaseAlgorithm):
    """Encoder (all patches) -> optional ``fusion_neck`` -> final norm -> ``head``
    (:class:`LinearClsHead`). With a fusion neck, its weights are logged as in MFF pretraining,
    which gives the paper's feature-bias comparison (fusion weights of MAE vs supervised).

    Args:
        trainable_blocks: which encoder parameters train (the head and neck always do).
            None: all of them (end-to-end fine-tuning). An int k in 0..depth: the last k blocks
            and the final norm (partial fine-tuning, MAE Fig. 9); k=0 freezes the whole encoder
            (linear probing: the encoder runs without autograd and gets no gradient).
            'last_mlp': the last block's MLP (its norm2, fc1, fc2) and the final norm. Frozen
            encoder parts run in eval mode (no drop path).
        mixup: keyword arguments of ``timm.data.Mixup`` (e.g. ``mixup_alpha=0.8,
            cutmix_alpha=1.0, label_smoothing=0.1``), applied to training batches;
            ``num_classes`` comes from the head. Pairs images within a batch, so the batch size
            must be even (``drop_last=True``).
        random_erasing: keyword arguments of ``timm.data.RandomErasing`` (MAE fine-tuning:
            ``probability=0.25, mode='pixel', max_count=1``), applied to each training image after
            the data preprocessor's normalisation and before mixup, where official MAE applies
            it (the last transform of its pipeline, after ``Normalize``); 'pixel' mode fills with
            normal noise in that normalised space.
        backbone: a :class:`VisionTransformer`.
        head: a :class:`LinearClsHead` (or :class:`AttentiveClsHead`).
        fusion_neck: MFF's :class:`MultiLevelFusionNeck`, or None.
        data_preprocessor, init_cfg: as :class:`BaseAlgorithm`.
    """

    def __init__(self, backbone: dict, head: dict, fusion_neck: Optional[dict] = None,
                 trainable_blocks: Optional[Union[int, str]] = None,
                 mixup: Optional[dict] = None, random_erasing: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        spec = self.build_encoder(backbone)
        self.fusion_neck = (None if fusion_neck is None else
                            MODELS.build(fusion_neck, default_args=dict(encoder_spec=spec)))
        self.head = MODELS.build(head, default_args=dict(encoder_spec=spec))
        self.trainable_blocks = trainable_blocks
        self._trainable_parts = self._freeze_encoder(trainable_blocks)
        self.mixup = None
        if mixup:
            from timm.data import Mixup
            self.mixup = Mixup(num_classes=self.head.num_classes, **mixup)
        self.random_erasing = dict(random_erasing) if random_erasing else None

    def _freeze_encoder(self, trainable_blocks) -> Optional[List[nn.Module]]:
        """Freeze the encoder except the parts ``trainable_blocks`` names; returns those parts
        (None when the whole encoder trains)."""
        if trainable_blocks is None:
            return None
        blocks = self.backbone.blocks
        if trainable_blocks == LAST_MLP:
            parts = [blocks[-1].norm2, blocks[-1].mlp, self.backbone.norm]
        elif (isinstance(trainable_blocks, int) and not isinstance(trainable_blocks, bool)
              and 0 <= trainable_blocks <= len(blocks)):
            parts = [*blocks[len(blocks) - trainable_blocks:]]
            parts += [self.backbone.norm] if trainable_blocks else []
        else:
            raise ValueError(f'model.trainable_blocks must be None (all), an int in 0..'
                             f'{len(blocks)} (the last k blocks) or {LAST_MLP!r}, '
                             f'got {trainable_blocks!r}')
        self.backbone.requires_grad_(False)
        for part in parts:
            part.requires_grad_(True)
        return parts

    @property
    def encoder_frozen(self) -> bool:
        return self.trainable_blocks == 0

    def train(self, mode: bool = True) -> 'ImageClassifier':
        super().train(mode)
        if self._trainable_parts is not None:
            self.backbone.eval()
            for part in self._trainable_parts:
                part.train(mode)
        return self

    def tokens(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            latent = self.backbone.encode(inputs, hidden_layers=self.hidden_layers)
        return self.output_tokens(latent)

    @staticmethod
    def labels(data_samples: Optional[list]) -> torch.Tensor:
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError('ImageClassifier needs data samples with gt_label (a dataset with '
                             'class labels)')
        return torch.stack([s.gt_label for s in data_samples])

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        labels = self.labels(data_samples).to(inputs.device)
        if self.random_erasing is not None:
            from timm.data.random_erasing import RandomErasing
            # built per call: timm draws its noise on the device it was given
            inputs = RandomErasing(**self.random_erasing, device=inputs.device)(inputs.clone())
        if self.mixup is not None:
            if len(inputs) % 2:
                raise ValueError(f'mixup/cutmix pair the images of a batch: got a batch of '
                                 f'{len(inputs)}; use an even train_dataloader.batch_size and '
                                 'drop_last=True')
            inputs, labels = self.mixup(inputs, labels)
        losses = self.head.loss(self.tokens(inputs), labels)
        return dict(losses, **self.fusion_weight_logs())

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        pred = self.head(self.tokens(inputs)).argmax(1)
        labels = self.labels(data_samples)
        return [dict(pred_label=int(p), gt_label=int(g)) for p, g in zip(pred, labels)]
