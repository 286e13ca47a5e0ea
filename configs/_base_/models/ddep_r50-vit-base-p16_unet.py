# DDeP (Brempong et al. 2022) on TransUNet's encoder, timm's hybrid ResNet-50 + ViT-B/16: the
# ResNet's stem and first two stages (strides 2, 4, 8) are the skips, the ViT's last block
# (stride 16) the bottleneck of the U-Net decoder (1x widths 1024, 512, 256, 128, 64). The
# encoder is frozen (DDeP); the decoder predicts the noise eps of x_n = sqrt(1 - sigma^2) x +
# sigma eps, sigma = 0.22 (the paper's best), MSE over all pixels.
# Encoder weights come from a local file (timm's R50+ViT-B/16 ImageNet-21k weights, saved as
# safetensors or a state dict); nothing is downloaded.
model = dict(
    type='DDeP',
    backbone=dict(
        type='TimmEncoder',
        model_name='vit_base_r50_s16_224',
        img_size=224,
        out_indices=(-1, ),
        norm_features=True,
        tap_modules=('patch_embed.backbone.stem.norm', 'patch_embed.backbone.stages.0',
                     'patch_embed.backbone.stages.1'),
        checkpoint='checkpoints/vit_base_r50_s16_224.orig_in21k.safetensors'),
    # TransUNet's decoder as the paper uses it: the full-resolution stage has no skip (no image
    # skip; the variant with one is ddep_r50-vit-base-p16-unet1x-imgskip_*.py)
    neck=dict(type='UNetDecoder', widths=(1024, 512, 256, 128, 64), width_mult=1,
              image_skip_strides=()),
    head=dict(type='DenoisingHead'),
    noise_sigma=0.22,
    noise_form='scaled',
    target='noise',
    freeze_encoder=True,
)
