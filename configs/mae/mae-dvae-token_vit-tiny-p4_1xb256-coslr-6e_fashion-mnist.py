# The MAE demo with the CAE/BEiT target (the MAE paper's "dVAE token" ablation, Table 1d): the
# removed patches' ids under the demo's small frozen dVAE (7 x 7 tokens at 28 px, one per 4-px
# patch), cross-entropy. The decoder's output width follows the head. The tokenizer is the
# checkpoint configs/dvae/ writes (docs/cae.md); a missing file is an error naming this key.
_base_ = [
    './mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py',
    '../_base_/models/dvae_fashion-mnist.py',
]
dvae_checkpoint = 'work_dirs/dvae_demo/epoch_3.pth'
model = dict(
    head=dict(_delete_=True, type='DVAETokenHead', view_size=None,
              tokenizer=dict(**_base_.tokenizer,
                             init_cfg=dict(type='Pretrained', checkpoint=dvae_checkpoint,
                                           prefix='tokenizer.'))),
)
