# The ViT-B/16 classifier as official MAE fine-tunes it (facebookresearch/mae models_vit.py and
# main_finetune.py): global_pool (mean of the patch tokens -> a fresh fc_norm LayerNorm -> head,
# the head's weight re-initialised with trunc_normal_(std=2e-5)), drop path 0.1, mixup 0.8,
# cutmix 1.0, label smoothing 0.1, random erasing 0.25 (pixel mode, one box).
_base_ = './vit-base-p16_cls.py'
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
