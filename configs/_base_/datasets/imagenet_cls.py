# An ImageNet-layout folder for classification: train/<class>/*.JPEG, val/<class>/*.JPEG;
# validation and test on val (resize 256, centre crop 224), top-1 accuracy.
_base_ = './imagenet_mae.py'

val_dataloader = {{_base_.test_dataloader}}
val_evaluator = dict(type='Accuracy')
val_cfg = dict()
test_evaluator = dict(type='Accuracy')
