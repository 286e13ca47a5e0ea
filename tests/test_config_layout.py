"""A paper config shows its recipe in at most two files: the optimizer (every key of
``optim_wrapper.optimizer``), ``param_scheduler`` (the warm-up included), the run length
(``train_cfg.max_epochs`` or ``max_iters``) and the batch (``train_dataloader.batch_size``) are each
set by the config itself or by one file its ``_base_`` names directly. Which file sets a key is
read from the files' syntax, following mmengine's merge: a child's dict merges into its base's, a
list, a scalar or a dict with ``_delete_=True`` replaces it."""
import ast
import glob
import os.path as osp
import re

import pytest
from conftest import REPO
from mmengine.config import Config

DEMO_SCALE = re.compile(r'fashion-mnist|garments|scenes|64x64|64px')
PAPER_CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs/**/*.py'), recursive=True)
    if '/_base_/' not in p and not DEMO_SCALE.search(osp.basename(p)))


def base_files(path: str) -> list:
    """The files ``path``'s ``_base_`` names, resolved as mmengine resolves them (``mmseg::``
    included), in their order."""
    return [osp.normpath(Config._get_cfg_path(base, path)[0])
            for base in Config._get_base_files(path)]


def _top_level(path: str) -> dict:
    """The last value assigned to each top-level name of a config file, as syntax."""
    with open(path, encoding='utf-8') as f:
        body = ast.parse(f.read()).body
    values = {}
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value
    return values


def _dict_items(node: ast.AST):
    """The literal items of ``dict(...)`` or ``{...}``, or None for any other expression."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict':
        return {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
    if isinstance(node, ast.Dict):
        return {k.value: v for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant)}
    return None


def _sets(path: str, key: tuple) -> bool:
    """Whether the file's own text decides the merged value at ``key`` (a tuple of names)."""
    values = _top_level(path)
    if key[0] not in values:
        return False
    node = values[key[0]]
    for name in key[1:]:
        items = _dict_items(node)
        if items is None:  # not a literal dict: the whole value replaces the base's
            return True
        delete = items.get('_delete_')
        if isinstance(delete, ast.Constant) and delete.value is True:
            return True
        if name not in items:
            return False
        node = items[name]
    return True


def provider(path: str, key: tuple) -> tuple:
    """(file, depth): the file whose text sets the merged value at ``key`` and how many
    ``_base_`` steps below ``path`` it is; (None, None) when no file in the tree sets it."""
    if _sets(path, key):
        return path, 0
    for base in base_files(path):
        found, depth = provider(base, key)
        if found is not None:
            return found, depth + 1
    return None, None


def tree(path: str, depth: int = 0) -> tuple:
    """(files, levels): every file of the inheritance tree (the config included) and the
    largest number of ``_base_`` steps from the config to a file of it."""
    files, levels = {path}, depth
    for base in base_files(path):
        sub, sub_levels = tree(base, depth + 1)
        files |= sub
        levels = max(levels, sub_levels)
    return files, levels


def recipe_keys(cfg: Config) -> list:
    keys = [('optim_wrapper', 'optimizer', name) for name in cfg.optim_wrapper.optimizer]
    keys.append(('param_scheduler', ))
    keys.append(('train_cfg', 'max_iters' if 'max_iters' in cfg.train_cfg else 'max_epochs'))
    keys.append(('train_dataloader', 'batch_size'))
    return keys


def recipe_files(path: str) -> dict:
    """{key: (file, depth)} for every recipe key of the config at ``path``."""
    cfg = Config.fromfile(path)
    return {key: provider(path, key) for key in recipe_keys(cfg)}


def test_the_paper_configs_are_found():
    names = {osp.basename(p) for p in PAPER_CONFIGS}
    assert 'mff_pixmim_vit-large-p16_8xb512-coslr-300e_in1k.py' in names
    assert 'upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py' in names
    assert 'mask-rcnn_mae-vit-large-p16_32xb2-lsj-100e_coco-1024x1024.py' in names
    assert not any(DEMO_SCALE.search(n) for n in names)
    assert len(PAPER_CONFIGS) >= 50


def test_provider_follows_mmengine_merge(tmp_path):
    """The syntax reading agrees with mmengine on a three-level tree: a dict merges, a list and a
    ``_delete_`` dict replace."""
    (tmp_path / 'a.py').write_text(
        "optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1.0))\n"
        "param_scheduler = [dict(type='A')]\ntrain_cfg = dict(max_epochs=3)\n"
        "train_dataloader = dict(batch_size=8, num_workers=2)\n")
    (tmp_path / 'b.py').write_text(
        "_base_ = './a.py'\noptim_wrapper = dict(optimizer=dict(lr=2.0))\n"
        "train_dataloader = dict(num_workers=1)\n")
    (tmp_path / 'c.py').write_text(
        "_base_ = ['./b.py']\nparam_scheduler = [dict(type='B')]\n"
        "train_cfg = dict(_delete_=True, max_epochs=5)\n")
    c = str(tmp_path / 'c.py')
    files = {key: osp.basename(f) for key, (f, _) in recipe_files(c).items()}
    assert files == {('optim_wrapper', 'optimizer', 'type'): 'a.py',
                     ('optim_wrapper', 'optimizer', 'lr'): 'b.py',
                     ('param_scheduler', ): 'c.py',
                     ('train_cfg', 'max_epochs'): 'c.py',
                     ('train_dataloader', 'batch_size'): 'a.py'}
    assert provider(c, ('optim_wrapper', 'optimizer', 'lr'))[1] == 1
    assert provider(c, ('train_dataloader', 'batch_size'))[1] == 2
    assert provider(c, ('train_dataloader', 'drop_last')) == (None, None)
    assert tree(c)[1] == 2 and len(tree(c)[0]) == 3


@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_a_paper_config_shows_its_recipe_in_two_files(name):
    path = osp.join(REPO, name)
    providers = recipe_files(path)
    unset = [key for key, (f, _) in providers.items() if f is None]
    assert not unset, f'{name}: no file sets {unset}'
    deep = {'.'.join(key): (osp.relpath(f, REPO), depth)
            for key, (f, depth) in providers.items() if depth > 1}
    assert not deep, f'{name}: recipe keys set more than one _base_ step away: {deep}'
    bases = {f for f, depth in providers.values() if depth == 1}
    assert len(bases) <= 1, f'{name}: the recipe is spread over the config and {sorted(bases)}'
