# MAE ViT-B/16, 800 epochs, batch 4096 (8 GPUs x 512), ImageNet-1k folder. The recipe: AdamW,
# lr, warm-up and cosine in ../_base_/schedules/mae_adamw_coslr.py; the batch and the epochs
# here.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
