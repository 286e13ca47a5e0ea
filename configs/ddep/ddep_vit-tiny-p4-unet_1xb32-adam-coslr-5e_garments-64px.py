# DDeP on the garment scenes: the DDeP demo (the `make demo` MAE encoder frozen, a
# 3-stage U-Net decoder with convolutional skips from the noisy image) denoise-pretrained on the
# unlabelled training scenes of the garment set (64x64 grey canvases with 1-4 Fashion-MNIST
# training-split garments; labels unused):
#   python tools/dataset_converters/generate_scenes.py garments ade20k data/garments/ade \
#       --num-train 2000 --num-val 200 --size 64
#   python tools/train.py configs/ddep/ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py \
#       --work-dir work_dirs/ddep_garments
# The fine-tuning config reads the decoder from work_dirs/ddep_garments/epoch_5.pth:
# configs/benchmarks/mmseg/unet-ddep_vit-tiny-p4_1xb8-adam-coslr-600i_garments-64x64.py
_base_ = './ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_ade20k-scenes-64px.py'

data_root = 'data/garments/ade/ADEChallengeData2016'
train_dataloader = dict(dataset=dict(data_root=data_root + '/images'))
test_dataloader = dict(dataset=dict(data_root=data_root + '/images'))
