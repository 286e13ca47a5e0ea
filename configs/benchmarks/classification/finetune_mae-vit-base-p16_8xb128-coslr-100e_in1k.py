# End-to-end fine-tuning of an MAE ViT-B/16 on ImageNet: official MAE's recipe. Sources:
# facebookresearch/mae FINETUNE.md (the ViT-B command: --epochs 100 --blr 5e-4 --layer_decay 0.65
# --weight_decay 0.05 --drop_path 0.1 --reprob 0.25 --mixup 0.8 --cutmix 1.0, effective batch
# 32 x 32 GPUs = 1024), main_finetune.py (its defaults for the rest: --warmup_epochs 5,
# --min_lr 1e-6, --smoothing 0.1, --aa rand-m9-mstd0.5-inc1, --remode pixel --recount 1,
# --global_pool; the head's weight re-initialised with trunc_normal_(std=2e-5)) and models_vit.py.
# The model: ../../_base_/models/vit-base-p16_finetune.py; the augmentation:
# ../../_base_/datasets/imagenet_finetune.py; the recipe: optimizer, lr, layer decay, warm-up,
# cosine and epochs in ../../_base_/schedules/adamw_layer_decay_finetune.py (lr = blr x 1024 / 256,
# no weight decay on 1-D parameters, tokens and positions), the batch here.
_base_ = [
    '../../_base_/models/vit-base-p16_finetune.py',
    '../../_base_/datasets/imagenet_finetune.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128)
