# UperNet on the garment scenes (`make demo-downstream`): 64x64 grey canvases with 1-4
# Fashion-MNIST garments (19-42 px) on a cluttered ground, in ADE20K's layout
# (configs/_base_/datasets/garments_ade20k.py says how to generate them); mIoU over the ten
# Fashion-MNIST classes. The `make demo` encoder (6 x 128-d, 4-px patches: a 16x16 grid at
# 64 px); random init: --cfg-options model.backbone.init_cfg=None.
# 10% of the labels: --cfg-options train_dataloader.dataset.indices=200 (the first 200 of the
# i.i.d. generated scenes); the number of iterations stays the same.
_base_ = ['./upernet_mae-vit-tiny-p4_1xb8-300it_ade20k-layout-64x64.py',
          '../../_base_/datasets/garments_ade20k.py']

# read by tools/analysis_tools/visualize_downstream.py and downstream_grid.py
data_root = _base_.garments_data_root
classes = _base_.garments_classes
max_iters = 600
num_classes = len(classes)

model = dict(decode_head=dict(num_classes=num_classes),
             auxiliary_head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.garments_train_dataset, indices=None))
val_dataloader = dict(dataset=dict(_delete_=True, **_base_.garments_val_dataset))
test_dataloader = val_dataloader

# the same optimiser for both inits: mild layer decay (6 blocks), AdamW lr 5e-4
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
# the decay has no end of its own: it ends with train_cfg.max_iters
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
