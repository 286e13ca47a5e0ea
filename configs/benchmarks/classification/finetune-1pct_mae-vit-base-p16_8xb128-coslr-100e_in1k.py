# Few-label fine-tuning on 1% of the ImageNet training labels (see the 10% config).
_base_ = [
    '../../_base_/models/vit-base-p16_finetune.py',
    '../../_base_/datasets/imagenet_finetune.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=128,
    dataset=dict(_delete_=True, type='FewLabelDataset', fraction=0.01, seed=0,
                 split_file='data/splits/{data}_train_1pct_seed0.json',
                 dataset={{_base_.train_dataloader.dataset}}))
