"""The import-layer contract: each sub-package of ``pipeline`` is one layer, and a layer imports only from the
layers below it (docs/architecture.md). Checked over the source with ``ast``, function-level imports included."""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT

# lowest first; modules of one rank are peers and must not import each other
LAYERS = (
    ("types", "errors", "lexicons"),
    ("config", "metadata", "evaluate", "hooks", "fsutil"),
    ("audio",),
    ("models",),
    ("transcription", "diarization"),
    ("conversation",),
    ("outputs",),
    ("runner",),
    ("nightly",),
    ("reporting",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def unit(module: str) -> str:
    """The layer unit of a dotted module name under ``pipeline``: its sub-package or top-level module."""
    return module.split(".")[1] if module.count(".") else module


def imports(path) -> set[str]:
    """``pipeline.*`` modules imported anywhere in a source file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pipeline":
                out |= {f"pipeline.{a.name}" for a in node.names if a.name != "__version__"}
            elif node.module.startswith("pipeline."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("pipeline.")}
    return out


SOURCES = sorted((ROOT / "pipeline").rglob("*.py"))


def test_every_module_has_a_layer():
    units = {unit(".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in SOURCES} - {"__init__"}
    assert units == set(RANK), "add new sub-packages to LAYERS (and docs/architecture.md)"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT / "pipeline")))
def test_lower_layers_never_import_higher_ones(path):
    mine = unit(".".join(path.relative_to(ROOT).with_suffix("").parts))
    if mine == "__init__":
        return
    wrong = sorted(m for m in imports(path) if unit(m) != mine and RANK[unit(m)] >= RANK[mine])
    assert not wrong, f"{mine} (layer {RANK[mine]}) imports {wrong}: move the shared piece down a layer"


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from pipeline.reporting import report\n    from pipeline import runner\n")
    assert imports(bad) == {"pipeline.reporting", "pipeline.runner"}
    assert RANK[unit("pipeline.reporting.report")] > RANK[unit("pipeline.audio.vad")]
