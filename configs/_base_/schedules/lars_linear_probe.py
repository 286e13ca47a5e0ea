# MAE's linear probe (from MoCo v3): LARS, momentum 0.9, no weight decay, lr 0.1 x batch / 256
# (here for batch 16384), trust ratio on the weight matrix only; 10 warm-up epochs, cosine to 0,
# 90 epochs. The encoder is frozen (model.trainable_blocks=0).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.1 * 16384 / 256, momentum=0.9, weight_decay=0.0,
                   trust_coeff=0.001, always_adapt=True),
    paramwise_cfg=dict(custom_keys={'bias': dict(always_adapt=False)}),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=90, val_interval=10)
auto_scale_lr = dict(base_batch_size=16384)
