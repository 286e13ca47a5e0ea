# Demo-size end-to-end fine-tuning of the `make demo` MAE encoder on Fashion-MNIST with official
# MAE's fine-tune recipe, as ./finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py has it (each
# part's source is in that config's comments): AdamW (0.9, 0.999), weight decay 0.05, layer decay
# 0.65, drop path 0.1, mixup 0.8, cutmix 1.0, label smoothing 0.1, RandAugment
# m9-mstd0.5-inc1, random erasing 0.25 ('pixel', one box), linear warm-up from 1e-4 x lr, cosine
# to 1e-6, and the global_pool classifier: no final norm on the encoder (the checkpoint's norm.*
# is left unloaded), the patch tokens averaged into a fresh LayerNorm (fc_norm) and a linear
# layer initialised with std 2e-5.
# Scaled to the demo, and only these: the 6 x 128-d ViT with 4-px patches on 28-px images, one
# process at batch 256 with lr 1e-3 (official blr 5e-4 would give 5e-4 at this batch; the demo
# keeps its own lr), 5 epochs, a warm-up of 20 steps instead of 5 epochs (given in steps so that
# short runs, a subset or one epoch, warm up alike), the crop over 50-100 % of the area as the
# demo pretraining's (official: 8-100 %, which on a 28-px garment is a crop down to 8 x 8 px),
# RandAugment's fill at the Fashion-MNIST mean.
# Random-init baseline: --cfg-options model.backbone.init_cfg=None.
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/fashion_mnist_cls.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4, drop_path_rate=0.1, final_norm=False,
                  init_cfg=dict(checkpoint='work_dirs/demo/epoch_6.pth', drop_keys=['norm.*'])),
    head=dict(num_classes=10, pool='avg', fc_norm=True, init_std=2e-5),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1),
    random_erasing=dict(probability=0.25, mode='pixel', max_count=1),
)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=28, scale=(0.5, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1', hparams=dict(img_mean=(73, 73, 73))),
    dict(type='PackInputs'),
]
# mixup pairs images within a batch: every batch must be even
train_dataloader = dict(drop_last=True, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False, begin=20),
]
train_cfg = dict(max_epochs=5, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(logger=dict(interval=25))
