# DDeP's pretraining schedule: Adam, lr 6e-5 (1x and 3x decoders; 1e-4 for 2x) at batch 512,
# cosine decay to 0 over the 100 epochs (the cosine ends with train_cfg.max_epochs).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=6e-5))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(base_batch_size=512)
