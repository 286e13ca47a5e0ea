# Supervised ViT with the MFF fusion neck on Fashion-MNIST labels: the paper's feature-bias
# comparison. Its fusion weights, plotted beside those of MFF-MAE pretraining
# (tools/analysis_tools/plot_fusion_weights.py), show which blocks each objective leans on.
_base_ = [
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/adamw_coslr_short.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', arch=dict(embed_dim=128, depth=6, num_heads=4),
                  img_size=28, patch_size=4, out_type='raw'),
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 1, 2, 3), projection='linear',
                     fusion='weighted'),
    head=dict(type='LinearClsHead', num_classes=10, pool='cls', label_smoothing=0.1),
)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(val_interval=1)
default_hooks = dict(logger=dict(interval=25))
val_dataloader = {{_base_.test_dataloader}}
val_evaluator = dict(type='Accuracy')
val_cfg = dict()
test_evaluator = dict(type='Accuracy')
