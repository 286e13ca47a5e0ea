"""The import graph of the package, read from its source with ``ast``: imports go down the floors
of docs/architecture.md (or stay on their floor), and no module imports itself through others."""
import ast
import os
import os.path as osp

from conftest import REPO

# Floors, top to bottom. A package may import its own floor and the floors below it.
FLOORS = [
    {'experiments'},
    {'apis'},
    {'engine'},
    {'evaluation', 'visualization', 'models', 'datasets'},
    {'registry', 'utils'},
]
FLOOR = {package: level for level, packages in enumerate(FLOORS) for package in packages}


def _module_name(path: str) -> str:
    rel = osp.relpath(path, REPO)[:-len('.py')].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def import_graph(root: str = osp.join(REPO, 'mimlab')) -> dict:
    """{module: {mimlab modules it imports}}, with ``from package import name`` resolved to the
    submodule when ``name`` is one, and imports inside functions counted like the others."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                files[_module_name(path)] = path
    graph = {}
    for module, path in files.items():
        is_package = path.endswith('__init__.py')
        package = module if is_package else module.rpartition('.')[0]
        targets = set()
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    anchor = package.split('.')
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = '.'.join(anchor + ([base] if base else []))
                names = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in files else base
                         for alias in node.names]
            else:
                continue
            targets.update(n for n in names if n.split('.')[0] == 'mimlab' and n != module)
        graph[module] = targets
    return graph


def _floor(module: str):
    parts = module.split('.')
    return FLOOR.get(parts[1]) if len(parts) > 1 else None


def upward_imports(graph: dict) -> list:
    return sorted(f'{module} imports {target}' for module, targets in graph.items()
                  for target in targets
                  if _floor(module) is not None and _floor(target) is not None
                  and _floor(target) < _floor(module))


def find_cycle(graph: dict):
    """A list of modules that import each other in a ring, or None."""
    state, stack = {}, []

    def visit(module):
        state[module] = 'open'
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 'open':
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = 'done'
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_every_package_has_a_floor():
    packages = {m.split('.')[1] for m in import_graph() if m.count('.') >= 1}
    assert packages == set(FLOOR)


def test_imports_go_down_the_floors():
    assert upward_imports(import_graph()) == []


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


def test_the_checks_catch_what_they_look_for():
    graph = {'mimlab.engine.hooks.x': {'mimlab.apis.inference'},
             'mimlab.models.a': {'mimlab.models.b', 'mimlab.engine.checkpoint'},
             'mimlab.models.b': {'mimlab.registry'},
             'mimlab.apis.inference': {'mimlab.engine.hooks.x', 'mimlab.datasets.builder'}}
    assert upward_imports(graph) == ['mimlab.engine.hooks.x imports mimlab.apis.inference',
                                     'mimlab.models.a imports mimlab.engine.checkpoint']
    assert find_cycle(graph) == ['mimlab.apis.inference', 'mimlab.engine.hooks.x',
                                 'mimlab.apis.inference']
    assert find_cycle({'mimlab.models.a': {'mimlab.models.b'}, 'mimlab.models.b': set()}) is None
    # relative imports are resolved as Python does
    hook = 'mimlab.engine.hooks.safe_checkpoint_loader_hook'
    assert 'mimlab.engine.checkpoint' in import_graph()[hook]


def test_the_experiments_core_and_the_work_dir_module_stand_alone():
    """The grid core and the tools' shared arguments import no experiment (the sweep and the
    downstream grid build on them); the work-dir module, which training and the experiments
    read work dirs through, imports nothing of the package."""
    graph = import_graph()
    for core in ('mimlab.experiments.runs', 'mimlab.experiments.cli'):
        assert sorted(t for t in graph[core] if t.startswith('mimlab.experiments')) == []
    assert graph['mimlab.engine.workdir'] == set()


def test_experiments_take_their_configs_as_arguments():
    """No module of ``mimlab/experiments`` finds files through its own location (``__file__``):
    the repository's configs come from the tools and the Makefile."""
    found = []
    for folder, _, names in os.walk(osp.join(REPO, 'mimlab', 'experiments')):
        for name in names:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                tree = ast.parse(open(path).read(), path)
                found += [f'{osp.relpath(path, REPO)}:{node.lineno}' for node in ast.walk(tree)
                          if isinstance(node, ast.Name) and node.id == '__file__']
    assert found == []


def test_tools_are_argument_parsing_and_one_call():
    """Every script under ``tools/`` is short (argument parsing and a call into the package)
    and imports the package as installed, not its neighbours through ``sys.path``."""
    long, shims = [], []
    for folder, _, names in os.walk(osp.join(REPO, 'tools')):
        for name in names:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                text = open(path).read()
                if text.count('\n') > 120:
                    long.append(f'{osp.relpath(path, REPO)}: {text.count(chr(10))} lines')
                if 'sys.path' in text:
                    shims.append(osp.relpath(path, REPO))
    assert long == [] and shims == []


def test_apis_holds_the_entry_points_only():
    """``mimlab/apis`` is the front door (train, load a model, features, export, convert): the
    checks of a config, the schedule fitting and the resume checks that training applies live
    in ``engine``, and the entry points fit in about 1,100 lines."""
    folder = osp.join(REPO, 'mimlab', 'apis')
    lines = sum(open(osp.join(folder, name)).read().count('\n') for name in os.listdir(folder)
                if name.endswith('.py'))
    assert lines <= 1100
    graph = import_graph()
    for module in ('config_checks', 'schedule', 'resume'):
        assert f'mimlab.engine.{module}' in graph['mimlab.apis.train']
