# PixMIM (Liu et al. 2023): MAE with a low-frequency target (ideal low-pass, radius 40 cycles
# per image at 224 px) and the simple resized crop (short side to 224 bilinear, as PixMIM's
# reference pipeline with torchvision's Resize; reflect-pad 4, random crop, flip).
_base_ = '../mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(head=dict(low_pass_radius=40))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=224, interpolation='bilinear'),
    dict(type='RandomCrop', size=224, padding=4, padding_mode='reflect'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
