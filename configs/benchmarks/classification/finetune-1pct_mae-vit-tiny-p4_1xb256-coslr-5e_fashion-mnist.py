# Demo-size few-label fine-tuning on 1% of the Fashion-MNIST training labels (60 per class).
_base_ = './finetune-10pct_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py'
train_dataloader = dict(
    dataset=dict(fraction=0.01, split_file='data/splits/{data}_train_1pct_seed0.json'))
