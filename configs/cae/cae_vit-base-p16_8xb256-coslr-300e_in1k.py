_base_ = './cae_vit-base-p16_8xb256-coslr-800e_in1k.py'
train_cfg = dict(max_epochs=300)
