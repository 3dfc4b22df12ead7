"""The layer order of genrm/ (README "Architecture"): every import, at module level or inside a
function, goes to a lower layer or stays in its own unit; no command imports another command."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "genrm"

# lowest first; a unit is a package, or a group of top-level modules
LAYERS = [
    {"foundation": ["types", "config", "runs", "logs", "stats"]},
    {"models": ["models", "distributed", "forward_batches"]},
    {"data": ["data"]},
    {"generation": ["generation"]},
    {"judges": ["judges"]},
    {"eval": ["eval"]},
    {"train": ["train"]},
    {"star": ["star"]},
    {"policy": ["policy"], "serving": ["serving"], "export": ["export"], "demo": ["demo"]},
    {"commands": ["commands"]},
    {"cli": ["cli", "__init__", "__main__"]},
]
LAYER = {top: (depth, unit) for depth, units in enumerate(LAYERS) for unit, tops in units.items() for top in tops}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def place(module: str) -> tuple[int, str]:
    """(layer, unit) of a genrm module; each command is a unit of its own."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    depth, unit = LAYER[top]
    return depth, module if unit == "commands" and len(parts) > 2 else unit


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, genrm module) of every import in the file; `from genrm import __version__` is the
    package itself, which Python loads before any of its modules."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "genrm"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "genrm":
            subs = [f"{node.module}.{a.name}" for a in node.names if is_module(f"{node.module}.{a.name}")]
            version_only = node.module == "genrm" and {a.name for a in node.names} == {"__version__"}
            found += [(node.lineno, s) for s in subs] or ([] if version_only else [(node.lineno, node.module)])
    return found


def violations_in(path: Path, here: str) -> list[str]:
    depth, unit = place(here)
    out = []
    for line, target in imports(path):
        if target in (here, "genrm.__main__"):
            continue
        their_depth, their_unit = place(target)
        if their_unit != unit and their_depth >= depth:
            out.append(f"{path.name}:{line}: {here} ({unit}) imports {target} ({their_unit})")
    return out


def violations() -> list[str]:
    return [v for path in sorted(ROOT.rglob("*.py")) for v in violations_in(path, module_name(path))]


def test_every_module_has_a_layer():
    tops = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.iterdir() if p.suffix == ".py" or p.is_dir()}
    tops.discard("__pycache__")
    assert sorted(tops - set(LAYER)) == []


def test_no_module_imports_a_layer_above_or_beside_it():
    assert violations() == []


def test_packages_say_what_lives_there_and_what_they_may_import():
    for package in sorted(p for p in ROOT.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert "may import" in doc.lower(), f"{package.name}/__init__.py: the docstring names what the package may import"


@pytest.mark.parametrize("source, flagged", [
    ("from genrm.serving.server import JudgeServer", True),  # beside: policy and serving share a layer
    ("from genrm.commands import eval", True),  # above
    ("import genrm.cli", True),
    ("def f():\n    from genrm.demo import run_demo", True),  # inside a function too
    ("from genrm.data.pairs import load_pairs", False),
    ("from genrm.policy.bon import BonConfig", False),  # its own package
    ("from genrm import __version__", False),
])
def test_the_check_catches_upward_and_sideways_imports(tmp_path, source, flagged):
    probe = tmp_path / "probe.py"
    probe.write_text(source + "\n")
    assert bool(violations_in(probe, "genrm.policy.probe")) == flagged


def test_commands_do_not_import_commands(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from genrm.commands import train\n")
    assert violations_in(probe, "genrm.commands.eval")
