# The demo (`make demo`): a small MAE on Fashion-MNIST (28 px, 4-px patches: 49 patches, 12
# visible) that trains on 2 CPU cores in about 8 minutes.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/adamw_coslr_short.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4),
    neck=dict(embed_dim=128, depth=1, num_heads=4),
)
default_hooks = dict(logger=dict(interval=25))
custom_hooks = [dict(type='ReconstructionHook', interval=400, split='test', num_images=8)]
