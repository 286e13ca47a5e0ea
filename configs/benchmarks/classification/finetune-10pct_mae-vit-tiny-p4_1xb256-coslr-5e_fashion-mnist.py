# Demo-size few-label fine-tuning on 10% of the Fashion-MNIST training labels (600 per class),
# drawn from the seed on first use and saved to split_file.
_base_ = './finetune_mae-vit-tiny-p4_1xb256-coslr-5e_fashion-mnist.py'
train_dataloader = dict(
    dataset=dict(_delete_=True, type='FewLabelDataset', fraction=0.1, seed=0,
                 split_file='data/splits/{data}_train_10pct_seed0.json',
                 dataset={{_base_.train_dataloader.dataset}}))
