#!/usr/bin/env bash
# Make sure the embedded default data (Fashion-MNIST, Debian package dataset-fashion-mnist) is
# installed; install it with apt-get where we can, say what to do where we cannot.
set -euo pipefail
DIR=/usr/share/datasets/fashion-mnist
PKG=dataset-fashion-mnist
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/t10k-labels-idx1-ubyte.gz" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[data] installing $PKG (Fashion-MNIST, 31 MB) with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PKG"
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
  echo "[data] installing $PKG (Fashion-MNIST, 31 MB) with sudo apt-get"
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PKG"
else
  cat >&2 <<MSG
[data] Fashion-MNIST is missing: expected $DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
  On Debian/Ubuntu: sudo apt-get install $PKG
  Elsewhere: put the four Fashion-MNIST idx .gz files in a folder and pass it as
  --cfg-options train_dataloader.dataset.data_root=/that/folder test_dataloader.dataset.data_root=/that/folder
MSG
  exit 1
fi
