# MAE ViT-B/16 with the paper's batch of 4096 on 8 devices that hold 64 images each: gradients
# of 8 steps are accumulated before each optimizer step (8 x 64 x 8 = 4096, so the lr stays).
_base_ = './mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=8)
