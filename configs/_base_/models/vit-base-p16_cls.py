# ViT-B/16 classifier on all patches: cls token -> linear layer. A pretraining checkpoint's
# `backbone.` weights load into it unchanged (set the path in init_cfg.checkpoint; None for
# random init).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', arch='base', img_size=224, patch_size=16,
                  out_type='raw',
                  init_cfg=dict(type='Pretrained', prefix='backbone.',
                                checkpoint='work_dirs/mae_vit-base-p16_8xb512-coslr-800e_in1k/'
                                'epoch_800.pth')),
    head=dict(type='LinearClsHead', num_classes=1000, pool='cls'),
)
