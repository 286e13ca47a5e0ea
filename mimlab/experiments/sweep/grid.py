"""The grid of a sweep: ``KEY=V1,V2,...`` texts, their product, and dotted config keys."""
import ast
import itertools
from typing import Any, Dict, List, Sequence, Tuple

from mmengine.config import Config

from mimlab.engine.errors import ConfigError

Grid = List[Tuple[str, List[Any]]]


def split_values(text: str) -> List[str]:
    """Split on the commas outside brackets and quotes: '[0,2],[4]' -> ['[0,2]', '[4]']."""
    parts, depth, quote, current = [], 0, None, ''
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char in '([{':
            depth += 1
        elif char in ')]}':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(current)
            current = ''
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_value(text: str) -> Any:
    """A Python literal where it is one ('0.5', 'True', 'None', '[0, 2]'), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_grid(text: str) -> Tuple[str, List[Any]]:
    """'key=v1,v2,...' -> (key, [v1, v2, ...])."""
    key, sep, values = text.partition('=')
    if not sep or not key or not values.strip():
        raise ConfigError(f'--grid {text!r}: expected KEY=V1,V2,...')
    parsed = [parse_value(v) for v in split_values(values)]
    if any(v == '' for v in parsed):
        raise ConfigError(f'--grid {text!r}: an empty value')
    return key.strip(), parsed


def expand_grid(grid: Grid) -> List[Dict[str, Any]]:
    """The product of the grids, the last key varying fastest: one override dict per cell."""
    keys = [key for key, _ in grid]
    if len(set(keys)) != len(keys):
        raise ConfigError(f'--grid: a key appears twice in {keys}')
    return [dict(zip(keys, values)) for values in itertools.product(*[v for _, v in grid])]


def lookup(cfg: Any, key: str) -> Tuple[bool, Any]:
    """(found, value) of a dotted key in a config (list indices allowed)."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit() and \
                -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, (dict, Config)) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def check_keys(cfg: Config, keys: Sequence[str], flag: str = '--grid') -> None:
    """Every key's parent must exist in the config (the leaf may be a constructor default):
    a typo fails here, before anything trains."""
    for key in keys:
        parent = key.rpartition('.')[0]
        if parent and not lookup(cfg, parent)[0]:
            raise ConfigError(f'{flag} key {key!r}: the config has no {parent!r}')
