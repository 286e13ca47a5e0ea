_base_ = './mff_mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
train_cfg = dict(max_epochs=300)
