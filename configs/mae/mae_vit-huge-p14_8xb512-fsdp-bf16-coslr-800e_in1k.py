# MAE ViT-H/14 sharded over the GPUs with FSDP (mmengine's FlexibleRunner + FSDPStrategy): each
# encoder and decoder block is its own shard unit, parameters, gradients and optimizer state are
# split across ranks; bf16 autocast and activation checkpointing keep activations small.
_base_ = './mae_vit-huge-p14_8xb512-coslr-800e_in1k.py'
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='mimlab.vit_block_auto_wrap_policy')),
    state_dict_cfg='full')
model = dict(backbone=dict(with_cp=True))
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16')
