# make demo   install (once) and run the main job: MAE pretraining on Fashion-MNIST, on the CPU
# make test   install (once) and run the whole test suite
# make benchmarks   the CPU figures of docs/benchmarks.md, mimlab beside mmpretrain (~10 min)
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.mimlab-installed
DEMO_CONFIG := configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py
DEMO_DIR    := work_dirs/demo
FMNIST      := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: install data demo test clean benchmarks

install: $(STAMP)

$(STAMP): setup.py $(wildcard requirements/*.txt) tools/install/install.sh tools/install/build_mmcv.sh
	VENV=$(VENV) tools/install/install.sh
	touch $@

data: $(FMNIST)

$(FMNIST):
	tools/install/ensure_data.sh

# Resumes an interrupted demo; a finished one goes straight to the pictures.
demo: install data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR) --resume
	$(PY) tools/analysis_tools/visualize_reconstruction.py $(DEMO_CONFIG) \
		$$(cat $(DEMO_DIR)/last_checkpoint) --split test --num-images 8 \
		--out $(DEMO_DIR)/reconstruction_heldout.png
	@echo "demo done: logs, checkpoints and pictures in $(DEMO_DIR)/"

test: install data
	$(PY) -m pytest tests -q

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

# make demo-downstream   fine-tune the `make demo` encoder in UperNet (generated ADE20K-layout
#                        scenes) and Mask R-CNN (generated COCO-layout scenes) on the CPU and print
#                        mIoU / AP; DOWNSTREAM_INIT=random runs the same from a random encoder
SEG_DEMO        := configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-300it_ade20k-layout-64x64.py
DET_DEMO        := configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-lsj-2e_coco-layout-64x64.py
DOWNSTREAM_INIT ?= mae
DOWNSTREAM_OPTS := $(if $(filter random,$(DOWNSTREAM_INIT)),--cfg-options model.backbone.init_cfg=None)
DOWNSTREAM_DIRS := work_dirs/demo_upernet_$(DOWNSTREAM_INIT) work_dirs/demo_mask_rcnn_$(DOWNSTREAM_INIT)

.PHONY: demo-downstream

demo-downstream: install
	$(if $(filter random,$(DOWNSTREAM_INIT)),,test -f $(DEMO_DIR)/epoch_6.pth || $(MAKE) demo)
	$(PY) tools/dataset_converters/generate_scenes.py shapes ade20k data/demo/ade --num-train 400 \
		--num-val 50 --size 64
	$(PY) tools/dataset_converters/generate_scenes.py shapes coco data/demo/coco --num-train 400 \
		--num-val 50 --size 64
	$(PY) tools/train.py $(SEG_DEMO) --work-dir $(word 1,$(DOWNSTREAM_DIRS)) $(DOWNSTREAM_OPTS)
	$(PY) tools/train.py $(DET_DEMO) --work-dir $(word 2,$(DOWNSTREAM_DIRS)) $(DOWNSTREAM_OPTS)
	$(PY) tools/analysis_tools/downstream_metrics.py $(DOWNSTREAM_DIRS)
