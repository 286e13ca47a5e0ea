"""The grid core that the sweep and the downstream grid share: distinct cells, the finished ones
skipped, child processes side by side with their logs and usage, in-process cells in order."""
import json
import os.path as osp
import sys

from mimlab.experiments.runs import Grid, read_usage, run_grid


class Toy(Grid):
    """Cells 'a', 'b', 'a' (a repeat), 'done'; a cell's run writes ``out.txt`` in its folder."""
    tag = 'toy'

    def __init__(self, root, here=False):
        self.root, self.here, self.ran, self.reported = root, here, [], None

    def plan(self):
        return ['a', 'b', 'a', 'done']

    def folder(self, cell):
        return osp.join(self.root, cell)

    def finished(self, cell):
        return cell == 'done'

    def command(self, cell):
        if self.here:
            return None
        code = 'b' if cell == 'b' else '0'
        return [sys.executable, '-c', f"open('{self.folder(cell)}/out.txt', 'w').write('{cell}');"
                f"print('hello {cell}'); raise SystemExit(int('{code}', 16) % 7)"]

    def run_cell(self, cell, index, count):
        self.ran.append((cell, index, count))

    def report(self, cells):
        self.reported = list(cells)
        return [dict(cell=c) for c in cells]


def test_children_run_side_by_side_and_leave_log_usage_and_no_pid(tmp_path, capsys):
    grid = Toy(str(tmp_path))
    rows = run_grid(grid, jobs=2)
    assert rows == [dict(cell=c) for c in grid.plan()] and grid.reported == grid.plan()
    out = capsys.readouterr().out
    assert out.count('[toy] start') == 2 and '[toy] done a' in out  # 'a' once, 'done' skipped
    assert '[toy] FAILED (4), see grid.log: b' in out  # 0xb % 7
    for cell, code in (('a', 0), ('b', 4)):
        folder = tmp_path / cell
        assert (folder / 'out.txt').read_text() == cell
        assert (folder / 'grid.log').read_text() == f'hello {cell}\n'
        assert not (folder / 'grid.pid').exists()
        usage = read_usage(str(folder))
        assert usage['exit_code'] == code and usage['wall_s'] >= 0 and usage['cpu_s'] >= 0
        assert json.loads((folder / 'usage.json').read_text()) == usage
    assert not (tmp_path / 'done').exists() and read_usage(str(tmp_path / 'done')) is None


def test_cells_run_here_in_order_and_report_only_trains_nothing(tmp_path):
    grid = Toy(str(tmp_path), here=True)
    run_grid(grid)
    assert grid.ran == [('a', 0, 2), ('b', 1, 2)]
    again = Toy(str(tmp_path), here=True)
    assert run_grid(again, train=False) == [dict(cell=c) for c in again.plan()]
    assert again.ran == []
