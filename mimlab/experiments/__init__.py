"""What runs runs or measures them (above ``apis``: they call its training and inference): the
ablation sweep, the downstream grid, on one grid core (``runs``); the benchmark, mask cost, step
time, peer comparison, GPU report, robustness and the DDeP skip share; and the arguments the
tools share (``cli``).
Configs come in as arguments: nothing here reads the repository through its own location."""
