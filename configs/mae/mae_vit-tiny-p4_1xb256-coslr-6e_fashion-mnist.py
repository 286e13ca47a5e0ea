# The demo (`make demo`): a small MAE on Fashion-MNIST (28 px, 4-px patches: 49 patches, 12
# visible) that trains on 2 CPU cores in about 6 minutes.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4),
    neck=dict(embed_dim=128, depth=1, num_heads=4),
)
# A small model and short run take a larger lr than the paper's 1.5e-4 x 256 / 256.
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=6)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(logger=dict(interval=25))
custom_hooks = [dict(type='ReconstructionHook', interval=400, split='test', num_images=8)]
