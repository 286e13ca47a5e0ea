from .non_finite_guard_hook import NonFiniteGuardHook
from .online_knn_hook import OnlineKNNHook, extract_features_sharded
from .preemption_hook import Preempted, PreemptionHook
from .random_state_hook import RandomStateHook, get_random_state, set_random_state
from .reconstruction_hook import ReconstructionHook
from .run_summary_hook import RunSummaryHook
from .safe_checkpoint_loader_hook import SafeCheckpointLoaderHook
from .train_stats_hook import TrainStatsHook

__all__ = ['NonFiniteGuardHook', 'OnlineKNNHook', 'Preempted', 'PreemptionHook',
           'RandomStateHook', 'ReconstructionHook', 'RunSummaryHook', 'SafeCheckpointLoaderHook',
           'TrainStatsHook', 'extract_features_sharded', 'get_random_state', 'set_random_state']
