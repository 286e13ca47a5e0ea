"""What the analysis tools share: their common arguments, and how they print and write a result.

Each tool keeps its own parser (its arguments are its interface); the arguments that several tools
take with the same meaning, and the way a result reaches stdout and ``--out``, are defined here
once so that they cannot drift apart.
"""
import argparse
import json
import os.path as osp
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction

from mimlab.apis.inference import heldout_batch, init_model, load_config
from mimlab.engine.checkpoint import write_json


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model LABEL CONFIG CHECKPOINT``, once per model to compare (``args.model`` is a list
    of these triples), and ``--cfg-options`` applied to every config."""
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override keys of every config')


def heldout_models(args: argparse.Namespace, num_images: int
                   ) -> Iterator[Tuple[Tuple[str, str, str], torch.nn.Module, torch.Tensor]]:
    """For each ``--model`` of :func:`add_model_arguments` in turn: its (label, config,
    checkpoint), the model (``--cfg-options`` applied) and ``num_images`` held-out images of its
    config's ``args.split`` (:func:`~mimlab.apis.inference.heldout_batch`). One model is built at
    a time, so only one is held in memory."""
    for label, config, checkpoint in args.model:
        model = init_model(load_config(config, args.cfg_options), checkpoint)
        images = heldout_batch(model, model.cfg, args.split, num_images)
        yield (label, config, checkpoint), model, images


def add_picture_out(parser: argparse.ArgumentParser) -> None:
    """A required ``--out`` PNG; the tool writes its numbers beside it (:func:`json_beside`)."""
    parser.add_argument('--out', required=True, help='PNG to write (and a .json beside it)')


def add_heldout_picture_arguments(parser: argparse.ArgumentParser) -> None:
    """A picture of a few held-out images and an error averaged over more of them:
    ``--split``, ``--num-images``, ``--num-eval`` and the ``--out`` of :func:`add_picture_out`."""
    parser.add_argument('--split', default='test', help='held-out split of the config dataset')
    parser.add_argument('--num-images', type=int, default=8, help='images in the picture')
    parser.add_argument('--num-eval', type=int, default=512, help='images the error is averaged '
                        'over')
    add_picture_out(parser)


def add_image_arguments(parser: argparse.ArgumentParser, num_images: int) -> None:
    """The images a picture shows: files or folders (``images``), or ``--num-images`` of the
    config dataset's ``--split``; :func:`parse_image_args` makes sure exactly one is given."""
    parser.add_argument('images', nargs='*', help='image files or folders of images')
    parser.add_argument('--split', help='take images from this split of the config dataset')
    parser.add_argument('--num-images', type=int, default=num_images,
                        help='images taken with --split')


def parse_image_args(parser: argparse.ArgumentParser,
                     argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` for a parser with :func:`add_image_arguments`; image paths and ``--split``
    exclude each other (a usage error, exit status 2, otherwise)."""
    args = parser.parse_args(argv)
    if bool(args.images) == bool(args.split):
        parser.error('give image paths or --split, not both or neither')
    return args


def add_unsafe_load_argument(parser: argparse.ArgumentParser) -> None:
    """``--unsafe-load``: the explicit opt-in of
    :func:`~mimlab.engine.checkpoint.allow_unsafe_load`."""
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')


def json_beside(picture: str) -> str:
    """The JSON file that goes with a picture: its path with ``.json`` for the extension."""
    return osp.splitext(picture)[0] + '.json'


def save_result(out: str, result: Any, indent: Optional[int] = 1,
                default: Optional[Callable[[Any], Any]] = None) -> None:
    """Write ``result`` as JSON to ``out`` (atomically, its folder created:
    :func:`~mimlab.engine.checkpoint.write_json`). A path that cannot be written ends the tool
    with one line naming it, after the result has been computed and printed."""
    try:
        write_json(out, result, indent=indent, default=default)
    except OSError as err:
        # atomic_write's own errors say 'could not write <out>: <why>' already; the creation of
        # the folder fails with the folder's name only
        raise SystemExit(err.strerror if err.filename is None and err.strerror
                         else f'could not write {out}: {err}') from err


def print_result(result: Any, out: Optional[str] = None, indent: Optional[int] = 1) -> None:
    """Print ``result`` as JSON (``indent=None``: on one line) and, when ``out`` is given, save it
    there as well (:func:`save_result`, always indented by one)."""
    print(json.dumps(result, indent=indent))
    if out:
        save_result(out, result)
