"""What the analysis tools share (mimlab.experiments.cli): arguments, printing and writing
results."""
import argparse
import json
import os
from pathlib import Path

import pytest
import torch
from conftest import DEMO_CONFIG, TINY_RUN

from mimlab.apis import init_model, load_config
from mimlab.experiments.cli import (add_heldout_picture_arguments, add_image_arguments,
                                    add_model_arguments, add_unsafe_load_argument, heldout_models,
                                    json_beside, parse_image_args, print_result, save_result)

RESULT = dict(config='a.py', top1=71.25, per_class=[1.5, 2], meta=dict(seed=0, name='ü'))


def test_print_result_prints_and_writes_the_same_json(tmp_path, capsys):
    out = tmp_path / 'new' / 'folder' / 'r.json'  # the folders do not exist yet
    print_result(RESULT, str(out))
    assert capsys.readouterr().out == json.dumps(RESULT, indent=1) + '\n'
    assert out.read_text() == json.dumps(RESULT, indent=1)
    assert os.listdir(out.parent) == ['r.json']  # the atomic write left no temporary


def test_print_result_on_one_line_still_writes_indented(tmp_path, capsys):
    out = tmp_path / 'r.json'
    print_result(RESULT, str(out), indent=None)
    printed = capsys.readouterr().out
    assert printed == json.dumps(RESULT) + '\n' and printed.count('\n') == 1
    assert out.read_text() == json.dumps(RESULT, indent=1)


def test_print_result_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    print_result(RESULT)
    assert json.loads(capsys.readouterr().out) == RESULT
    assert os.listdir(tmp_path) == []


def test_save_result_indent_default_and_replacing_a_file(tmp_path):
    out = tmp_path / 'bench.json'
    out.write_text('a longer old content that must not survive in part' * 10)
    result = dict(device='cpu', root=Path('/data/x'), load=(1.5, 2.0))
    save_result(str(out), result, indent=2, default=str)
    assert out.read_text() == json.dumps(result, indent=2, default=str)
    assert json.loads(out.read_text())['root'] == '/data/x'
    with pytest.raises(TypeError, match='PosixPath'):  # without default, as json.dump
        save_result(str(out), result)
    assert json.loads(out.read_text())['root'] == '/data/x'  # the old file is kept whole


def test_save_result_names_a_path_it_cannot_write(tmp_path):
    folder = tmp_path / 'taken'
    folder.mkdir()
    with pytest.raises(SystemExit) as err:
        save_result(str(folder), RESULT)
    assert str(err.value).startswith(f'could not write {folder}: Is a directory')
    assert folder.is_dir() and os.listdir(folder) == []
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    with pytest.raises(SystemExit) as err:
        save_result(str(a_file / 'r.json'), RESULT)
    assert str(err.value).startswith(f'could not write {a_file}/r.json: ')
    assert str(a_file) in str(err.value) and a_file.read_text() == 'x'


def test_json_beside_replaces_only_the_extension():
    assert json_beside('out/freq.png') == 'out/freq.json'
    assert json_beside('runs.v2/hessian') == 'runs.v2/hessian.json'  # a dot in a folder name
    assert json_beside('a.b.png') == 'a.b.json'


def test_model_arguments():
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(['--model', 'MAE', 'mae.py', 'mae.pth', '--model', 'MFF', 'mff.py',
                              'mff.pth', '--cfg-options', 'model.backbone.arch.depth=2'])
    assert args.model == [['MAE', 'mae.py', 'mae.pth'], ['MFF', 'mff.py', 'mff.pth']]
    assert args.cfg_options == {'model.backbone.arch.depth': 2}
    assert parser.parse_args(['--model', 'A', 'a.py', 'a.pth']).cfg_options is None
    with pytest.raises(SystemExit) as err:  # --model is required, and takes three values
        parser.parse_args([])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        parser.parse_args(['--model', 'A', 'a.py'])


def test_heldout_picture_arguments():
    parser = argparse.ArgumentParser()
    add_heldout_picture_arguments(parser)
    args = parser.parse_args(['--out', 'x.png'])
    assert (args.split, args.num_images, args.num_eval, args.out) == ('test', 8, 512, 'x.png')
    with pytest.raises(SystemExit):  # --out is required
        parser.parse_args([])


def test_image_arguments_take_paths_or_a_split(capsys):
    parser = argparse.ArgumentParser()
    add_image_arguments(parser, num_images=4)
    args = parse_image_args(parser, ['a.png', 'folder'])
    assert args.images == ['a.png', 'folder'] and args.split is None
    args = parse_image_args(parser, ['--split', 'test'])
    assert args.images == [] and (args.split, args.num_images) == ('test', 4)
    for argv in (['a.png', '--split', 'test'], []):
        with pytest.raises(SystemExit) as err:
            parse_image_args(parser, argv)
        assert err.value.code == 2
        assert 'give image paths or --split, not both or neither' in capsys.readouterr().err


def test_unsafe_load_argument():
    parser = argparse.ArgumentParser()
    add_unsafe_load_argument(parser)
    assert parser.parse_args([]).unsafe_load is False
    assert parser.parse_args(['--unsafe-load']).unsafe_load is True


def test_heldout_models_loads_each_model_with_the_options(tmp_path):
    """Each --model with --cfg-options applied and its checkpoint loaded, with held-out images
    of its config's split, in the order given."""
    options = {k: v for k, v in TINY_RUN.items() if k.startswith('model.')}
    checkpoints = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = init_model(load_config(DEMO_CONFIG, options))
        checkpoints.append(str(tmp_path / f'seed{seed}.pth'))
        torch.save(dict(state_dict=model.state_dict()), checkpoints[-1])
    args = argparse.Namespace(model=[['A', DEMO_CONFIG, checkpoints[0]],
                                     ['B', DEMO_CONFIG, checkpoints[1]]],
                              cfg_options=options, split='test')
    seen = []
    for spec, model, images in heldout_models(args, num_images=5):
        saved = torch.load(spec[2], weights_only=True)['state_dict']
        assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
        assert model.backbone.embed_dim == 32 and not model.training
        assert images.shape == (5, 3, 28, 28)  # the demo config reads greyscale as RGB
        seen.append((spec, images))
    assert [s for s, _ in seen] == [tuple(m) for m in args.model]
    assert torch.equal(seen[0][1], seen[1][1])  # the same held-out images for every model
