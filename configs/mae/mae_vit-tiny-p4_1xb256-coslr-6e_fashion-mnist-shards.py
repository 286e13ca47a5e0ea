# The demo, read from WebDataset-format tar shards instead of the idx archive. Write them first:
#   python tools/dataset_converters/make_shards.py /usr/share/datasets/fashion-mnist \
#       data/fashion_mnist_shards --shard-size 1000
_base_ = './mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'
train_dataloader = dict(
    sampler=None,  # a stream: each rank and worker reads its own shards
    dataset=dict(_delete_=True, type='TarShardDataset',
                 shards='data/fashion_mnist_shards/train-{000000..000059}.tar',
                 num_samples=60000, pipeline={{_base_.train_pipeline}}))
# the held-out pictures still come from the idx archive's test split
custom_hooks = [dict(type='ReconstructionHook', interval=400, num_images=8,
                     dataset=dict(type='ImageDataset', data_root={{_base_.data_root}},
                                  split='test', pipeline={{_base_.test_pipeline}}))]
