# Few-label fine-tuning on 1% of the ImageNet training labels (see the 10% config).
_base_ = './finetune-10pct_mae-vit-base-p16_8xb128-coslr-100e_in1k.py'
train_dataloader = dict(
    dataset=dict(fraction=0.01, split_file='data/splits/{data}_train_1pct_seed0.json'))
