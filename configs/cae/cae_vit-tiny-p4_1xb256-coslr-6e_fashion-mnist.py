# The CAE demo: the MAE demo's encoder (6 x 128-d, 4-px patches at 28 px) with block masking
# (19 of 49 patches), a 2-block regressor and decoder, and token targets from the small dVAE that
# configs/dvae/dvae_c128-d4_1xb256-3e_fashion-mnist.py trains (7 x 7 tokens, one per patch).
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/models/dvae_fashion-mnist.py',
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/adamw_coslr_short.py',
    '../_base_/default_runtime.py',
]
dvae_checkpoint = 'work_dirs/dvae_demo/epoch_3.pth'
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4, block_min_patches=4, drop_path_rate=0.0),
    # no stochastic depth at the demo budget, in the encoder, regressor and decoder alike
    neck=dict(depth=2, drop_path_rate=0.0),
    decoder=dict(depth=2, drop_path_rate=0.0),
    head=dict(view_size=None,
              tokenizer=dict(_delete_=True, **_base_.tokenizer,
                             init_cfg=dict(type='Pretrained', checkpoint=dvae_checkpoint,
                                           prefix='tokenizer.'))),
)
# CAE's decay rule (../_base_/schedules/cae_adamw_coslr.py): decay on every parameter of more
# than one dimension (the cls and mask tokens included), none on any 1-D one
optim_wrapper = dict(clip_grad=dict(max_norm=3.0),
                     paramwise_cfg=dict(_delete_=True, bias_decay_mult=0.0, norm_decay_mult=0.0,
                                        flat_decay_mult=0.0))
default_hooks = dict(logger=dict(interval=25))
# the MAE demo's online kNN, for side-by-side accuracy curves in TensorBoard
custom_hooks = [dict(type='OnlineKNNHook', num_bank=1000, num_queries=1000)]
