# mmseg EncoderDecoder for fine-tuning after DDeP: timm's R50+ViT-B/16 encoder and the U-Net
# decoder, both from a DDeP checkpoint, a 1x1 class head in place of the noise layer, pixel-wise
# cross-entropy. mimlab.UNetEncoderDecoder hands the head the image too (the decoder's image
# skips). Datasets and crops come from the configs that inherit this (mmseg's bases).
custom_imports = dict(imports=['mimlab'], allow_failed_imports=False)

ddep_checkpoint = 'work_dirs/ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k/epoch_100.pth'
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5] * 3,  # the encoder's, as in DDeP (timm's pretrained_cfg: pixels to [-1, 1])
    std=[127.5] * 3,
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))  # the crop size
model = dict(
    type='mimlab.UNetEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mimlab.TimmEncoder',
        model_name='vit_base_r50_s16_224',
        img_size=(512, 512),
        out_indices=(-1, ),
        norm_features=True,
        tap_modules=('patch_embed.backbone.stem.norm', 'patch_embed.backbone.stages.0',
                     'patch_embed.backbone.stages.1'),
        checkpoint=ddep_checkpoint,
        checkpoint_prefix='backbone.model.'),  # DDeP's encoder; its pos-embed resized by timm
    decode_head=dict(
        type='mimlab.UNetDecodeHead',
        in_channels=[64, 256, 512, 768],  # the hybrid encoder's features, as in pretraining
        in_strides=[2, 4, 8, 16],
        widths=(1024, 512, 256, 128, 64),
        image_skip_strides=(),  # the pretrained decoder's (TransUNet's: none); (1, ) for the
        # ddep_..-unet1x-imgskip_.. variant's checkpoints
        decoder_checkpoint=ddep_checkpoint,  # None: a randomly initialised decoder
        # 1-2 images per GPU: batch statistics over all processes (the keys are BN's, so the
        # pretrained decoder loads); one process turns it into BN (engine/config_checks.py)
        norm_cfg=dict(type='SyncBN'),
        num_classes=150,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),  # the mean over labelled pixels
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
