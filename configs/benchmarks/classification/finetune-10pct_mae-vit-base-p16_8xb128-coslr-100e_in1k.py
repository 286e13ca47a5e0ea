# Few-label fine-tuning on 10% of the ImageNet training labels (class-balanced, drawn from the
# seed on first use and saved to split_file; later runs and all ranks read the file back); the
# rest as finetune_mae-vit-base-p16_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../../_base_/models/vit-base-p16_finetune.py',
    '../../_base_/datasets/imagenet_finetune.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
train_dataloader = dict(
    batch_size=128,
    dataset=dict(_delete_=True, type='FewLabelDataset', fraction=0.1, seed=0,
                 split_file='data/splits/{data}_train_10pct_seed0.json',
                 dataset={{_base_.train_dataloader.dataset}}))
