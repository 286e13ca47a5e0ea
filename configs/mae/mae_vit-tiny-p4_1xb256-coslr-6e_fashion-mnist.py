# The demo (`make demo`): a small MAE on Fashion-MNIST (28 px, 4-px patches: 49 patches, 12
# visible) that trains on 2 CPU cores: about 8 minutes in float32, 1.5x fewer CPU-seconds per step
# in bf16 on a CPU with AMX (docs/benchmarks.md).
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/adamw_coslr_short.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4),
    neck=dict(embed_dim=128, depth=1, num_heads=4),
)
# bf16 autocast on a CPU with native bf16 matrix instructions (AMX / AVX512-BF16): 1.5x the
# float32 step there, same held-out loss; float32 on other CPUs, where bf16 is emulated and slower.
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', native_only=True)
default_hooks = dict(logger=dict(interval=25))
# Online kNN top-1 after every epoch (the first 1,000 train images as the bank, the first 1,000
# test images as queries; docs/evaluation.md): the accuracy curve in the log and TensorBoard.
custom_hooks = [
    dict(type='ReconstructionHook', interval=400, split='test', num_images=8),
    dict(type='OnlineKNNHook', num_bank=1000, num_queries=1000),
]
