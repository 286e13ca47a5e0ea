# MAE ViT-H/14 sharded over the GPUs with FSDP (mmengine's FlexibleRunner + FSDPStrategy): each
# encoder and decoder block is its own shard unit, parameters, gradients and optimizer state are
# split across ranks; bf16 autocast and activation checkpointing keep activations small.
# Otherwise mae_vit-huge-p14_8xb512-coslr-800e_in1k.py.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='mimlab.vit_block_auto_wrap_policy')),
    state_dict_cfg='full')
model = dict(backbone=dict(arch='huge', patch_size=14, with_cp=True))
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16')
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
