# Demo-size linear probe through tools/train.py: the `make demo` MAE encoder (6 blocks, 128-d,
# 4-px patches) frozen, BatchNorm without affine + linear layer on the cls token, SGD (the
# small-batch option) at batch 256, lr 0.1, 10 epochs on Fashion-MNIST. Random-init baseline:
# --cfg-options model.backbone.init_cfg=None. Cached features (seconds per probe):
# tools/analysis_tools/extract_features.py + linear_probe.py --features.
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/fashion_mnist_cls.py',
    '../../_base_/schedules/lars_linear_probe.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4, init_cfg=dict(checkpoint='work_dirs/demo/epoch_6.pth')),
    head=dict(num_classes=10, batch_norm=True),
    trainable_blocks=0,
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=10, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(logger=dict(interval=25))
