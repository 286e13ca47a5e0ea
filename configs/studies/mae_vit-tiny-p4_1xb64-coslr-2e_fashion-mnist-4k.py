# The budget of the ablation studies (docs/studies.md, tools/sweep.py): the demo's MAE (ViT
# 6 x 128-d, 4-px patches on 28 px, 1-block 128-d decoder, normalised-pixel target) on the
# first 4,000 Fashion-MNIST training images, batch 64, 2 epochs (126 iterations: 1 warm-up
# epoch, then cosine), no pictures, one checkpoint kept. About 30 s of one CPU core.
_base_ = '../mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'
# mask_tokens stated (it is the default) so that the mask-token study's False cell is the
# other studies' base cell
model = dict(backbone=dict(mask_tokens=False))
train_dataloader = dict(batch_size=64, dataset=dict(indices=4000))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=2)
auto_scale_lr = dict(base_batch_size=64)
custom_hooks = []
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(max_keep_ckpts=1))
