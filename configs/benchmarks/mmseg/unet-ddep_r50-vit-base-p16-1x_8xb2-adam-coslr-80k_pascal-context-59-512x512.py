# Fine-tuning after DDeP on Pascal Context (mmseg's PascalContextDataset59, 59 classes): the
# ADE20K recipe (512 x 512 random crops after random rescaling, horizontal flip, Adam + cosine)
# on mmseg's Pascal Context layout (data/VOCdevkit/VOC2010, see mmseg's dataset docs) and its
# 80k-iteration budget.
_base_ = './unet-ddep_r50-vit-base-p16-1x_8xb2-adam-coslr-160k_ade20k-512x512.py'
context = dict(type='PascalContextDataset59', data_root='data/VOCdevkit/VOC2010/',
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'))
model = dict(decode_head=dict(num_classes=59))
train_dataloader = dict(
    dataset=dict(**context, ann_file='ImageSets/SegmentationContext/train.txt'))
val_dataloader = dict(dataset=dict(**context, ann_file='ImageSets/SegmentationContext/val.txt'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=80000, val_interval=8000)
