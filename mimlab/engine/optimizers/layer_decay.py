"""Layer-wise learning-rate decay for fine-tuning a ViT (BEiT / MAE protocol)."""
from typing import List

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from mimlab.registry import OPTIM_WRAPPER_CONSTRUCTORS

NO_DECAY_NAMES = ('cls_token', 'pos_embed', 'mask_token', 'relative_position_bias_table')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Parameter groups with lr ``base_lr * layer_decay_rate ** (num_layers - 1 - layer_id)``,
    where the backbone tells each parameter's layer id (``backbone.get_layer_depth``:
    0 for the embeddings, i + 1 for block i); everything outside the backbone (necks, heads)
    gets the full lr. 1-D parameters (norms, biases) and the tokens and position embeddings get
    no weight decay. Usable from mmseg and mmdet configs as
    ``constructor='mimlab.LayerDecayOptimWrapperConstructor'`` with
    ``paramwise_cfg=dict(layer_decay_rate=0.65)``.
    """

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        decay_rate = self.paramwise_cfg.get('layer_decay_rate', 1.0)
        backbone = getattr(module, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'get_layer_depth'):
            raise TypeError(f'{type(self).__name__} needs a model whose backbone has '
                            'get_layer_depth (e.g. mimlab.VisionTransformer)')
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            if name.startswith('backbone.'):
                layer_id, num_layers = backbone.get_layer_depth(name, 'backbone.')
            else:
                num_layers = backbone.get_layer_depth('backbone.norm', 'backbone.')[1]
                layer_id = num_layers - 1
            no_decay = param.ndim == 1 or name.split('.')[-1] in NO_DECAY_NAMES
            key = (layer_id, no_decay)
            if key not in groups:
                scale = decay_rate ** (num_layers - 1 - layer_id)
                groups[key] = dict(params=[], lr=self.base_lr * scale, lr_scale=scale,
                                   weight_decay=0.0 if no_decay else self.base_wd,
                                   layer_id=layer_id)
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
        print_log(f'layer decay {decay_rate}: {len(groups)} parameter groups, lr scales '
                  f'{sorted({round(g["lr_scale"], 4) for g in groups.values()})}',
                  logger='current')
