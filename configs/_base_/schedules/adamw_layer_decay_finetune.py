# MAE's end-to-end fine-tuning of ViT-B: AdamW (0.9, 0.999), weight decay 0.05 (none on norms,
# biases, tokens, positions), lr 5e-4 x batch / 256 (here for batch 1024), layer-wise lr decay
# 0.65; 5 warm-up epochs, cosine to 1e-6, 100 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-4 * 1024 / 256, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.65),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
auto_scale_lr = dict(base_batch_size=1024)
