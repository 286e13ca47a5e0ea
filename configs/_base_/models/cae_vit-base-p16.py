# CAE with ViT-B/16 (Chen et al. 2022): block masking of 75 of the 196 patches (the paper's v1 and
# mmpretrain; official CAE's scripts mask 98: the '-mask98' configs), a 4-block latent
# contextual regressor and a 4-block decoder at the encoder's width (LayerScale 0.1), DALL-E token
# targets from a 112-px view of the same crop, alignment weight 2. Sizes come from the backbone.
model = dict(
    type='CAE',
    backbone=dict(type='MaskedViT', arch='base', img_size=224, patch_size=16, mask_ratio=75 / 196,
                  mask_mode='block', block_min_patches=16, block_max_aspect=1 / 0.3,
                  drop_path_rate=0.1, layer_scale_init_value=0.1,
                  # the references' patch projection init (MAE's is xavier-uniform)
                  patch_embed_init='trunc_normal'),
    # stochastic depth 0.1 in the regressor and decoder too (official CAE's --drop_path feeds all
    # three); style='cae': the references' regressor block (docs/cae.md)
    neck=dict(type='LatentContextualRegressor', depth=4, init_values=0.1, drop_path_rate=0.1,
              style='cae'),
    decoder=dict(type='CAEPretrainDecoder', depth=4, init_values=0.1, drop_path_rate=0.1),
    head=dict(
        type='DVAETokenHead',
        view_size=112,
        # tools/model_converters/dalle_to_mimlab.py writes this file from OpenAI's encoder.pkl
        tokenizer=dict(type='DALLEEncoder', init_cfg=dict(
            type='Pretrained', checkpoint='checkpoints/dalle_encoder.pth'))),
    align_weight=2.0,
    momentum=0.0,
)
