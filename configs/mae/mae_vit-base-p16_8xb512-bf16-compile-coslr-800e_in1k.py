# MAE ViT-B/16 on GPUs, the fast settings: bf16 autocast (no loss scaler needed), fused AdamW,
# torch.compile of the train step. Attention runs through F.scaled_dot_product_attention (flash
# kernels on the GPU) in every mimlab ViT. Add `--cfg-options model.backbone.with_cp=True` for
# activation checkpointing when memory, not compute, is the limit.
_base_ = './mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=dict(fused=True))
compile = True
