# End-to-end fine-tuning of an MAE ViT-B/16 on ImageNet: official MAE's recipe. Sources:
# facebookresearch/mae FINETUNE.md (the ViT-B command: --epochs 100 --blr 5e-4 --layer_decay 0.65
# --weight_decay 0.05 --drop_path 0.1 --reprob 0.25 --mixup 0.8 --cutmix 1.0, effective batch
# 32 x 32 GPUs = 1024), main_finetune.py (its defaults for the rest: --warmup_epochs 5,
# --min_lr 1e-6, --smoothing 0.1, --aa rand-m9-mstd0.5-inc1, --remode pixel --recount 1,
# --global_pool; the head's weight re-initialised with trunc_normal_(std=2e-5)) and models_vit.py
# (global_pool: mean of the patch tokens -> a fresh fc_norm LayerNorm -> head, and the encoder's
# final norm deleted). Optimiser and schedule: ../../_base_/schedules/adamw_layer_decay_finetune.py
# (lr = blr x 1024 / 256, no weight decay on 1-D parameters, tokens and positions).
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/imagenet_cls.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    # official models_vit.py deletes the final norm under global_pool, so the pretraining
    # checkpoint's norm.* is not loaded (its fine-tuning load is strict=False): named here, and
    # any other encoder tensor the model lacks (e.g. CAE's LayerScale gammas) is an error
    backbone=dict(drop_path_rate=0.1, final_norm=False,
                  init_cfg=dict(drop_keys=['norm.*'])),
    head=dict(pool='avg', fc_norm=True, init_std=2e-5),
    # timm's Mixup defaults are the official ones: prob 1.0, switch_prob 0.5, mode 'batch'
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1),
    random_erasing=dict(probability=0.25, mode='pixel', max_count=1),
)
# timm's create_transform(is_training=True) as main_finetune.py calls it (random erasing is the
# model's random_erasing above: it works on normalised images, after the data preprocessor)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    # fill of the geometric ops: the data preprocessor's mean, as timm does
    dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1', hparams=dict(img_mean=(124, 116, 104))),
    dict(type='PackInputs'),
]
# mixup pairs images within a batch: every batch must be even
train_dataloader = dict(batch_size=128, drop_last=True, dataset=dict(pipeline=train_pipeline))
