# MAE with ViT-B/16 (He et al. 2021): mask 75%, decoder 8 x 512-d x 16 heads, normalised-pixel
# target. The decoder and head take their sizes from the backbone.
model = dict(
    type='MAE',
    backbone=dict(type='MaskedViT', arch='base', img_size=224, patch_size=16, mask_ratio=0.75),
    neck=dict(type='MAEPretrainDecoder', embed_dim=512, depth=8, num_heads=16),
    head=dict(type='PixelReconstructionHead', norm_pix=True),
)
