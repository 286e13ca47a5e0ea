from .analysis import (hessian_eigenvalue_distribution, layer_frequency_response,
                       math_attention, radial_log_amplitude, top_hessian_eigenvalue)
from .attention import attention_weights, cls_attention
from .knn import knn_accuracy, knn_predict
from .linear_probe import extract_features, train_linear_probe
from .metrics import Accuracy, ReconstructionLoss

__all__ = [
    'Accuracy', 'ReconstructionLoss', 'attention_weights', 'cls_attention', 'extract_features',
    'hessian_eigenvalue_distribution', 'knn_accuracy', 'knn_predict',
    'layer_frequency_response', 'math_attention', 'radial_log_amplitude',
    'top_hessian_eigenvalue', 'train_linear_probe'
]
