# Fashion-MNIST for classification (linear probe, fine-tuning, kNN, robustness): the pretraining
# data config, with the test split as the validation set and top-1 accuracy as the metric.
_base_ = './fashion_mnist_mae.py'

val_dataloader = {{_base_.test_dataloader}}
val_evaluator = dict(type='Accuracy')
val_cfg = dict()
test_evaluator = dict(type='Accuracy')
