"""The shape of the package: public API, module boundaries, shipped files, runnable examples."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

import triggers
from tests.conftest import EXAMPLES, ROOT
from triggers.store.schema import HEAD_REVISION

PACKAGE = ROOT / "triggers"


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(triggers.__path__, prefix="triggers.")
        if not info.name.endswith("__main__")
    ]


def test_public_api_is_exported_and_sorted() -> None:
    assert triggers.__all__ == sorted(triggers.__all__, key=lambda n: (not n.isupper(), n))
    for name in triggers.__all__:
        assert hasattr(triggers, name), name


#: The subpackages and modules an integrator may import from; everything else is
#: internal (a leading underscore) or re-exported by `triggers` itself.
PUBLIC_MODULES = {
    "backtest",
    "cli",
    "cluster",
    "engine",
    "errors",
    "generate",
    "limits",
    "mapping",
    "models",
    "parallel",
    "pipeline",
    "reading",
    "report",
    "rules",
    "ruletests",
    "spreadsheet",
    "store",
}


def test_the_public_names_are_exactly_all() -> None:
    for module in _modules():  # every submodule loaded, as a long-running process has them
        importlib.import_module(module)
    for name in triggers.__all__:
        getattr(triggers, name)  # and every lazily loaded name
    public = {name for name in vars(triggers) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(triggers, name), ModuleType)}
    assert public - modules == set(triggers.__all__) - {"__version__"}
    assert modules == PUBLIC_MODULES
    assert set(dir(triggers)) >= set(triggers.__all__)
    assert triggers.__version__ == version("risk-triggers")


def test_every_exception_is_exported_with_its_exit_code() -> None:
    import triggers.errors

    exceptions = {
        name
        for name, value in vars(triggers.errors).items()
        if isinstance(value, type) and issubclass(value, triggers.TriggersError)
    }
    assert exceptions <= set(triggers.__all__)
    for name in exceptions:
        assert getattr(triggers, name).exit_code == 1


@pytest.mark.parametrize("module", _modules())
def test_every_module_declares_what_it_exports(module: str) -> None:
    imported = importlib.import_module(module)
    exported = getattr(imported, "__all__", None)
    assert exported is not None, f"{module} has no __all__"
    for name in exported:
        assert hasattr(imported, name), f"{module}.__all__ names missing {name!r}"


# Which layers each layer may import: models → reading → generate → rules → engine → ruletests
# → parallel → cluster → backtest → store → pipeline → report → cli.
LAYERS = [
    "limits",
    "errors",
    "_lazy",
    "_yaml",
    "_json",
    "models",
    "mapping",
    "spreadsheet",
    "reading",
    "_corpus_files",
    "generate",
    "rules",
    "engine",
    "ruletests",
    "parallel",
    "cluster",
    "backtest",
    "store",
    "pipeline",
    "report",
    "cli",
]
#: Where each dependency may be imported (a file, or a folder ending in /).
THIRD_PARTY = {
    "durable": ("engine/durable/",),
    "durable_rules_engine": ("engine/durable/",),
    "sqlalchemy": ("store/", "migrations/"),
    "alembic": ("store/", "migrations/"),
    "click": ("cli/",),
    "rich": ("cli/",),
    "dask": ("cluster.py",),
    "distributed": ("cluster.py",),
    "matplotlib": ("report/png.py",),
}
#: Imports a layer may not make although they are below it: the rule language knows no
#: engine, and the store only stores (orchestration is the pipeline's).
FORBIDDEN = {"rules": {"engine"}, "store": {"engine", "ruletests", "parallel", "cluster"}}
#: Folders that belong to a layer: the store's schema migrations.
PART_OF = {"migrations": "store"}


def _layer(path: Path) -> str:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return PART_OF.get(top, top)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_dependencies_flow_one_way(path: Path) -> None:
    if path == PACKAGE / "__init__.py":
        return
    layer = _layer(path)
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) if layer in LAYERS else set(LAYERS)
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "triggers" and name != "triggers":
            target = name.split(".")[1]
            assert target in allowed, f"{path.name} ({layer}) imports {name}"
            assert target not in FORBIDDEN.get(layer, ()), f"{path.name} ({layer}) imports {name}"
        if top in THIRD_PARTY:
            where = str(path.relative_to(PACKAGE))
            assert any(
                where.startswith(place) if place.endswith("/") else where == place
                for place in THIRD_PARTY[top]
            ), f"{path} imports {top}"


def test_embedding_example_runs_with_public_names_only() -> None:
    source = (EXAMPLES / "embed.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("triggers"):
            assert node.module == "triggers"
            assert all(alias.name in triggers.__all__ for alias in node.names)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "embed.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "3 alert(s) stored for case embedded-1" in result.stdout
    assert "rejected: inline.json: events[0].at: invalid date 'soon'" in result.stdout


def test_the_wheel_ships_the_default_rules(tmp_path: Path) -> None:
    hatchling = shutil.which("hatchling", path=str(Path(sys.executable).parent))
    if hatchling is None:
        pytest.skip("hatchling is not installed in this environment")
    work = tmp_path / "src"
    shutil.copytree(
        ROOT,
        work,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.sqlite*", "__pycache__", ".*cache"),
    )
    subprocess.run(
        [hatchling, "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=work,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "triggers/default_rules/core.yaml" in names
        assert "triggers/default_rules/core.test.yaml" in names
        assert "triggers/migrations/env.py" in names
        assert "triggers/migrations/versions/0001_initial.py" in names
        archive.extractall(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}

    def installed(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Python code run against the unpacked wheel, away from the source checkout."""
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=tmp_path,
        )

    # Installed from the wheel (no source checkout beside it), the shipped rules load ...
    shipped = tmp_path / "site" / "triggers" / "default_rules"
    out = installed(
        "import triggers; r = triggers.load_rules(); print(triggers.default_rules_path(), len(r.rules))"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(shipped))
    # ... and so do the rule tests shipped beside them, with `triggers rules test`.
    found = installed("import triggers; print(*map(str, triggers.rule_test_files()))")
    assert found.stdout == f"{shipped / 'core.test.yaml'}\n"
    tested = installed("from triggers.cli import main; main()", "rules", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stderr.endswith(" tests, 0 failed\n")
    # ... and the schema migrations run from it, creating a store at the head revision.
    created = installed(
        "import triggers.store as s; print(s.upgrade_schema('sqlite:///fresh.sqlite'))"
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout == f"(None, {HEAD_REVISION!r})\n"


#: What a command run prints after it, to standard error: the modules it imported.
_IMPORTED = (
    "import sys\n"
    "from triggers.cli import cli\n"
    "try:\n"
    "    cli.main(sys.argv[1:], prog_name='triggers')\n"
    "except SystemExit as done:\n"
    "    print(*sorted(sys.modules), file=sys.stderr)\n"
    "    raise\n"
)


@pytest.mark.parametrize("command", [["--help"], ["rules", "check"], ["rules", "list"]])
def test_commands_without_the_store_start_without_its_libraries(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stderr.split())
    assert "triggers.cli" in imported
    for heavy in (
        "sqlalchemy",
        "alembic",
        "triggers.engine.explain",
        "triggers.store.store",
        "dask",
        "distributed",
        "triggers.report",
        "matplotlib",
    ):
        assert heavy not in imported, f"triggers {' '.join(command)} imports {heavy}"
