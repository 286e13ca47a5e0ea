default_scope = 'mimlab'

default_hooks = dict(
    # Weights-only checkpoint loads (resume, load_from, Pretrained init) with mmengine's own
    # classes allowed; installed when the runner is built (mimlab/engine/checkpoint.py).
    safe_checkpoint_loader=dict(type='SafeCheckpointLoaderHook'),
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),  # logs losses, lr, time and the ETA
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic writes: a run killed during a save keeps its previous checkpoint loadable.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Each iteration's random draws seeded from (seed, rank, iteration): a resumed run draws the
    # masks the uninterrupted one drew; a checkpoint of another world size or data order is
    # refused on --resume (augmentations are seeded per sample by the resumable train loops).
    random_state=dict(type='RandomStateHook'),
    # images/s and the gradient norm, logged with the losses and the lr
    train_stats=dict(type='TrainStatsHook'),
    # {work_dir}/summary.json at the end: config, commit, time, images/s, memory, final loss and
    # online accuracy, checkpoint, environment (tools/analysis_tools/collect_summaries.py)
    run_summary=dict(type='RunSummaryHook'),
    # SIGTERM / SIGUSR1 (a cluster's preemption or time-limit notice): finish the iteration,
    # save an atomic checkpoint there, stop; SIGUSR1 under SLURM also requeues the job.
    preemption=dict(type='PreemptionHook', signals=('SIGTERM', 'SIGUSR1'),
                    requeue_signals=('SIGUSR1',)),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(window_size=10, by_epoch=True)
# scalars.json and TensorBoard events side by side in {work_dir}/{timestamp}/vis_data/
# (tensorboard --logdir work_dirs/NAME)
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'

load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
