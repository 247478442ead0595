"""Dependencies point one way, checked on the real imports (ast): the contract imports nothing
of the project; the HAL imports only the contract; the core (firmware/) imports no HAL, board
or tool; below the shell (app.py, core.py) nothing imports the hub, and nothing in the core
imports the shell. docs/architecture.md draws the same graph."""

import ast
import os

from conftest import ROOT

SHELL = ("firmware.app", "firmware.core")


def imports(path):
    tree = ast.parse(open(path).read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(node.module + "." + a.name for a in node.names)
    return out


def modules(package):
    for dirpath, _, names in os.walk(os.path.join(ROOT, package)):
        for n in sorted(names):
            if n.endswith(".py"):
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__"), path


def project(names):
    return {n for n in names if n.split(".")[0] in ("contract", "firmware", "hal", "boards")}


def test_the_contract_imports_nothing_of_the_project():
    for name, path in modules("contract"):
        assert not {n for n in project(imports(path)) if not n.startswith("contract")}, name


def test_the_hal_imports_only_the_contract():
    for name, path in modules("hal"):
        bad = {n for n in project(imports(path)) if n.split(".")[0] not in ("contract", "hal")}
        assert not bad, (name, bad)


def test_the_core_imports_no_hal_board_or_tool():
    for name, path in modules("firmware"):
        bad = {n for n in imports(path) if n.split(".")[0] in ("hal", "boards", "tools")}
        assert not bad, (name, bad)


def test_only_the_shell_knows_the_hub_and_nothing_below_knows_the_shell():
    for name, path in modules("firmware"):
        got = project(imports(path))
        if name not in SHELL:
            assert "firmware.hub" not in got and "firmware.hub.Hub" not in got, name
            assert not {n for n in got if n.startswith(SHELL)}, name
