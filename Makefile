# make demo   install (once) and run the main job: MAE pretraining on Fashion-MNIST, on the CPU
# make test   install (once) and run the whole test suite
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.mimlab-installed
DEMO_CONFIG := configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py
DEMO_DIR    := work_dirs/demo
FMNIST      := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: install data demo test clean

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
