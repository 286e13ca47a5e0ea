# make demo   install (once) and run the main job: MAE pretraining on Fashion-MNIST, on the CPU
# make test   install (once) and run the whole test suite
# make benchmarks   the CPU figures of docs/benchmarks.md, mimlab beside mmpretrain (~10 min)
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.mimlab-installed
DEMO_CONFIG := configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py
DEMO_DIR    := work_dirs/demo
FMNIST      := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: install data demo test clean benchmarks gpu-wheels

install: $(STAMP)

$(STAMP): setup.py $(wildcard requirements/*.txt) tools/install/install.sh tools/install/build_mmcv.sh
	VENV=$(VENV) tools/install/install.sh
	touch $@

data: $(FMNIST)

$(FMNIST):
	tools/install/ensure_data.sh

# Measured levers of the demo (docs/benchmarks.md, "The demo"): glibc malloc hands tensors over
# 128 KiB back to the kernel on free and maps them afresh (page faults) every step, and the
# thresholds keep the activations (up to 26 MB) in the heap (~5 % of the CPU time); OpenMP's
# threads spin while they wait, which on cores that other processes share made steps 7x slower.
DEMO_ENV := OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456

# Resumes an interrupted demo; a finished one goes straight to the pictures.
demo: install data
	$(DEMO_ENV) $(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR) --resume
	$(DEMO_ENV) $(PY) tools/analysis_tools/visualize_reconstruction.py $(DEMO_CONFIG) \
		$$(cat $(DEMO_DIR)/last_checkpoint) --split test --num-images 8 \
		--out $(DEMO_DIR)/reconstruction_heldout.png
	@echo "demo done: logs, checkpoints and pictures in $(DEMO_DIR)/"

test: install data
	$(PY) -m pytest tests -q

# The pure-Python wheels that tools/analysis_tools/gpu_report.sh installs on a GPU machine with no
# package registry (docs/performance.md, "GPU report"); ~5 MB in .cache/gpu_wheels (git-ignored).
gpu-wheels: install
	PY=$(PY) tools/install/build_gpu_wheels.sh .cache/gpu_wheels

clean:
	rm -rf work_dirs

# Rerunnable CPU figures (docs/benchmarks.md, "Performance"): 2 threads for the model steps, one
# process per data-pipeline worker; results in work_dirs/benchmarks/.
BENCH_DIR := work_dirs/benchmarks
benchmarks: install data
	OMP_WAIT_POLICY=PASSIVE $(PY) tools/analysis_tools/compare_peer.py --threads 2 --rounds 3 \
		--cases vit-b tiny data data-cv2 --out $(BENCH_DIR)/compare_peer.json
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 $(PY) tools/analysis_tools/mask_cost.py \
		--threads 2 --batch-size 2 --out-dir $(BENCH_DIR)
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 $(PY) tools/analysis_tools/benchmark.py \
		$(DEMO_CONFIG) --threads 2 --iters 10 --out $(BENCH_DIR)/demo.json
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=2 $(PY) tools/analysis_tools/benchmark.py \
		$(DEMO_CONFIG) --threads 2 --iters 10 --amp bf16 --no-data --out $(BENCH_DIR)/demo_bf16.json

# make demo-downstream   the pretrained encoder downstream, on garment scenes (64x64 grey canvases
#     with 1-4 Fashion-MNIST garments on a cluttered ground, in ADE20K's and COCO's layouts):
#     UperNet and Mask R-CNN fine-tuned from the `make demo` MAE encoder and from random init,
#     10% of the labels, seed 0, side by side on 2 cores; prints the table and writes pictures
#     of the predictions (work_dirs/demo_downstream/*.png). ~15 min on 2 cores.
# make demo-downstream-full   the 3-seed tables of docs/benchmarks.md: 10% and 100% of the labels
#     x MAE / random init x seeds 0-2, both tasks (24 runs), then DDeP and DeP denoising
#     pretraining on the garment scenes with seeds 0-2 (6 runs) and DDeP's U-Net at 10% of the
#     labels from each seed's DDeP decoder, a random decoder and each seed's DeP, seeds 0-2
#     (9 runs); finished runs are kept, so it resumes
GARMENTS        := data/garments
SEG_DEMO        := configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py
DET_DEMO        := configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py
DOWNSTREAM_DIR  := work_dirs/demo_downstream
GRID            := $(PY) tools/analysis_tools/downstream_grid.py --checkpoint $(DEMO_DIR)/epoch_6.pth
DDEP_GARMENTS   := configs/ddep/ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py
DEP_GARMENTS    := configs/ddep/dep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py

.PHONY: demo-downstream demo-downstream-full garments

garments: install data
	$(PY) tools/dataset_converters/generate_scenes.py garments ade20k $(GARMENTS)/ade \
		--num-train 2000 --num-val 200 --size 64
	$(PY) tools/dataset_converters/generate_scenes.py garments coco $(GARMENTS)/coco \
		--num-train 2000 --num-val 200 --size 64

demo-downstream: garments
	test -f $(DEMO_DIR)/epoch_6.pth || $(MAKE) demo
	$(GRID) --work-dir $(DOWNSTREAM_DIR) --percents 10 --seeds 0 --jobs 2
	$(PY) tools/analysis_tools/visualize_downstream.py seg $(SEG_DEMO) \
		--runs MAE=$(DOWNSTREAM_DIR)/seg_10pct_mae_seed0 random=$(DOWNSTREAM_DIR)/seg_10pct_random_seed0 \
		--out $(DOWNSTREAM_DIR)/upernet_10pct.png
	$(PY) tools/analysis_tools/visualize_downstream.py det $(DET_DEMO) \
		--runs MAE=$(DOWNSTREAM_DIR)/det_10pct_mae_seed0 random=$(DOWNSTREAM_DIR)/det_10pct_random_seed0 \
		--score-thr 0.1 --out $(DOWNSTREAM_DIR)/mask_rcnn_10pct.png

demo-downstream-full: garments
	test -f $(DEMO_DIR)/epoch_6.pth || $(MAKE) demo
	$(GRID) --work-dir work_dirs/garments --percents 10 100 --seeds 0 1 2 --jobs 2
	for s in 0 1 2; do for arm in ddep dep; do \
		$(DEMO_ENV) $(PY) tools/train.py configs/ddep/$${arm}_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py \
			--work-dir work_dirs/ddep_seeds/$${arm}_seed$$s --resume --cfg-options randomness.seed=$$s \
			|| exit 1; done; done
	$(GRID) --work-dir work_dirs/ddep_seeds/grid --tasks ddep --inits ddep dep random --percents 10 \
		--seeds 0 1 2 --jobs 2 --ddep-checkpoint 'work_dirs/ddep_seeds/ddep_seed{seed}/epoch_5.pth' \
		--dep-checkpoint 'work_dirs/ddep_seeds/dep_seed{seed}/epoch_5.pth'
