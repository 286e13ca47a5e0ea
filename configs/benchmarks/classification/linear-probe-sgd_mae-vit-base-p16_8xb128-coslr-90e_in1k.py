# The small-batch option of the linear probe: SGD (momentum 0.9, no weight decay) at batch 1024
# (8 x 128), lr 0.1 x 1024 / 256; 10 warm-up epochs, cosine to 0, 90 epochs; the model and the
# augmentation as the LARS probe.
_base_ = './linear-probe-lars_mae-vit-base-p16_8xb2048-coslr-90e_in1k.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1 * 1024 / 256, momentum=0.9, weight_decay=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=90)
train_dataloader = dict(batch_size=128)
auto_scale_lr = dict(base_batch_size=1024)
