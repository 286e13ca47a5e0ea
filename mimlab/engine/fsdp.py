"""FSDP for the large encoders: the shard unit is one transformer block."""
import torch.nn as nn
from timm.models.vision_transformer import Block

from mimlab.registry import FUNCTIONS


@FUNCTIONS.register_module()
def vit_block_auto_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """``auto_wrap_policy`` for mmengine's ``FSDPStrategy``: every ViT block (encoder and
    decoder) becomes its own FSDP unit, so one block's full parameters are gathered at a time.
    Config: ``strategy=dict(type='FSDPStrategy', model_wrapper=dict(
    auto_wrap_policy=dict(type='mimlab.vit_block_auto_wrap_policy')))``."""
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
    return transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                        transformer_layer_cls={Block})
