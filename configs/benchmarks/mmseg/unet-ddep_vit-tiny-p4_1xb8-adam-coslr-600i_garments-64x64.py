# DDeP's label-efficient segmentation on the garment scenes: the U-Net of the DDeP demo
# over the frozen `make demo` MAE encoder, fine-tuned on 10% of the labels (the first 200 of the
# 2000 i.i.d. generated training scenes) for 600 iterations of batch 8 (the UperNet garment
# config's budget), mIoU over the ten Fashion-MNIST classes by mmseg's IoUMetric.
#   decoder from DDeP (configs/ddep/ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py):
#       the default (work_dirs/ddep_garments/epoch_5.pth)
#   random decoder (the baseline): --cfg-options model.decode_head.decoder_checkpoint=None
#   DeP (encoder and decoder from configs/ddep/dep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py):
#       --cfg-options model.decode_head.decoder_checkpoint=work_dirs/dep_garments/epoch_5.pth \
#           model.backbone.init_cfg.checkpoint=work_dirs/dep_garments/epoch_5.pth
# The encoder stays frozen in all three (the CPU budget), so the cells differ only in where the
# decoder (and, for DeP, the encoder) comes from.
_base_ = ['./unet-ddep_vit-tiny-p4_1xb8-adam-coslr-300i_ade20k-scenes-64x64.py',
          '../../_base_/datasets/garments_ade20k.py']

# read by tools/analysis_tools/visualize_downstream.py and downstream_grid.py
data_root = _base_.garments_data_root
classes = _base_.garments_classes
max_iters = 600

model = dict(decode_head=dict(num_classes=len(classes),
                              decoder_checkpoint='work_dirs/ddep_garments/epoch_5.pth'))
# the garment UperNet config's data
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.garments_train_dataset, indices=200))
val_dataloader = dict(dataset=dict(_delete_=True, **_base_.garments_val_dataset))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters))
