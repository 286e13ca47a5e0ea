_base_ = './mff_pixmim_vit-large-p16_8xb512-coslr-800e_in1k.py'
train_cfg = dict(max_epochs=300)
