# MFF on MAE (Liu et al., ICCV 2023), ViT-B/16, 300 epochs, batch 4096 (8 x 512): the fusion
# neck of ../_base_/models/mff_vit-base-p16.py, the official MFF configs' simple resized crop
# (../_base_/datasets/imagenet_simple-resized-crop.py), MAE's recipe (optimizer, lr, warm-up in
# ../_base_/schedules/mae_adamw_coslr.py; the batch and the epochs here).
_base_ = [
    '../_base_/models/mff_vit-base-p16.py',
    '../_base_/datasets/imagenet_simple-resized-crop.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=300)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
