# Demo-size partial fine-tuning: the last k blocks of the 6 train (model.trainable_blocks =
# 0 .. 6, or 'last_mlp'); the rest as the demo fine-tune.
_base_ = './finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py'
model = dict(trainable_blocks=1)
