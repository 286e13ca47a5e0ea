# MFF on PixMIM, ViT-B/16, 800 epochs, batch 4096 (8 x 512): the PixMIM recipe (low-pass
# target, simple resized crop; see ../pixmim/) plus the fusion neck.
_base_ = [
    '../_base_/models/mff_vit-base-p16.py',
    '../_base_/datasets/imagenet_simple-resized-crop.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(low_pass_radius=40))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
