"""The house's layout holds: the import contract, no import cycles, a light `import ksweep`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from tests.conftest import ROOT


def test_the_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint)] if lint.exists() else [shutil.which("lint-imports") or "lint-imports"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_module_of_ksweep_is_in_an_import_cycle():
    graph = grimp.build_graph("ksweep", cache_dir=None)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in index} for m in modules}
    cycles = [sorted(c) for c in strongly_connected(edges) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the strongly connected components of `edges`."""
    order, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in order:
            continue
        work = [(root, iter(sorted(edges[root])))]
        order[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == order[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(component)
            elif child not in order:
                order[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], order[child])
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert sorted(map(sorted, strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}))) == [
        ["a", "b"],
        ["c"],
    ]


def test_import_ksweep_and_its_commands_catalog_import_no_torch():
    code = (
        "import sys, ksweep, ksweep.cli.catalog, ksweep.cli.main, ksweep.run.stage, ksweep.analysis.ranking; "
        "heavy = [m for m in ('torch', 'torchvision', 'models', 'ksweep_trainer') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_option_declarations_need_only_the_standard_library():
    # The Makefile reads them with the system python3 before .venv exists.
    code = (
        "import sys; sys.path.insert(0, '.'); import ksweep.cli.catalog; "
        "stdlib = set(sys.stdlib_module_names); "
        "outside = sorted({m.split('.')[0] for m in sys.modules} - stdlib - {'ksweep', '__main__'}); "
        "assert not outside, outside"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
