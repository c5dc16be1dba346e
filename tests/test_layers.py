"""The layering a newcomer can rely on: index → qa → ui, eval. The core imports nothing from the
layers above it, runs without the ``ui`` and ``eval`` extras, and reads every environment
variable through ``index/settings.py``."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from index import settings
from index.errors import ConfigError, QAError
from qa.cli import main

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("index", "qa", "ui", "eval")
LAYER = {"index": 0, "qa": 1, "ui": 2, "eval": 2}
# Inside eval/: the grounding suite (eval/*.py) below benchmarks, training and probes; those
# three import the suite, never each other (probes may use training's data helpers).
EVAL_PART = {"suite": 0, "bench": 1, "train": 1, "probes": 2}


def modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (``eval.train.reader``, ``qa``)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import in the file, at any
    depth (a function's lazy import counts: a circle through one is still a circle)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: None if path.name == "__init__.py" else -1]
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for a in node.names:
                sub = f"{module}.{a.name}"
                out.append((sub, None, node.lineno) if sub in known else (module, a.name, node.lineno))
    return out


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {m: {t for t, _, _ in imports(m, p, known) if t in known and t != m} for m, p in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_circles_are_found_and_there_are_none():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "index.store" in graph["index.cache"] or "index.cache" in graph["index.store"]
    assert circles(graph) == []


def test_no_module_imports_another_modules_private_names():
    """``from m import _x`` and ``m._x`` across files: what a module keeps private stays so
    (tests included)."""
    known = modules()
    tests = {f"tests.{p.stem}": p for p in (ROOT / "tests").glob("*.py")}
    found = []
    for name, path in {**known, **tests}.items():
        taken = imports(name, path, known)
        found += [f"{path.relative_to(ROOT)}:{line} {m}.{n}" for m, n, line in taken
                  if n and n.startswith("_") and not n.startswith("__") and m in known]
        aliases = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for a in node.names:
                    full = a.name if isinstance(node, ast.Import) else f"{node.module}.{a.name}"
                    if full in known:
                        aliases[a.asname or a.name.split(".")[-1]] = full
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    assert not found, "\n".join(found)


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_a_layer_above_its_own(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_packages(path) & LAYER.keys():
            assert LAYER[name] <= LAYER[package] and not (package == "ui" and name == "eval"), (
                f"{path.relative_to(ROOT)} imports {name}")


def _eval_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in EVAL_PART else "suite"


def test_eval_suite_benchmarks_training_and_probes_keep_their_order():
    """The suite imports none of the three; benchmarks and training not each other; only
    ``eval/commands.py`` (the ``qa eval`` / ``qa bench`` entry points) sits above them all."""
    graph = import_graph()
    assert {"eval.run", "eval.bench.compare", "eval.train.reader", "eval.probes.dense_hit"} <= graph.keys()
    for module, deps in graph.items():
        if not module.startswith("eval.") or module == "eval.commands":
            continue
        for dep in deps:
            if dep.startswith("eval."):
                mine, theirs = _eval_part(module), _eval_part(dep)
                assert mine == theirs or EVAL_PART[theirs] < EVAL_PART[mine], f"{module} imports {dep}"


def test_the_core_imports_no_ui_or_eval_library():
    core = {p for pkg in ("index", "qa") for p in (ROOT / pkg).rglob("*.py")}
    for path in sorted(core):
        assert not imported_packages(path) & {"gradio", "fastapi", "uvicorn", "matplotlib"}, path


def test_qa_help_loads_no_gradio_and_lists_the_plugin_commands():
    code = ("import sys, contextlib, io\nfrom qa.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try: main(['--help'])\n    except SystemExit: pass\n"
            "print(out.getvalue())\n"
            "heavy = ('gradio', 'matplotlib', 'torch', 'ui.server')\n"
            "print('LOADED', sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, check=True).stdout
    assert "LOADED []" in out
    for command in ("ask", "index", "serve", "eval", "bench"):
        assert command in out.split("positional arguments")[1]


def test_environment_variables_are_read_only_in_settings():
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name != "settings.py":
                text = path.read_text(encoding="utf-8")
                assert "os.environ" not in text and "getenv" not in text, path


def test_settings_read_the_environment_and_name_a_bad_value():
    env = {"QA_INDEX_DIR": "/tmp/lib", "QA_VECTOR_URI": " m.db ", "QA_TORCH_THREADS": "3",
           "QA_LOG_LEVEL": "debug"}
    assert settings.index_dir(env) == Path("/tmp/lib")
    assert settings.vector_uri(env) == "m.db"
    assert settings.torch_threads(env) == 3 and settings.torch_threads({}) == 1
    assert settings.log_level(env) == logging.DEBUG and settings.log_level({}) == logging.WARNING
    assert settings.seeds_dir({}) == ROOT / "seeds"
    for name, value in [("QA_TORCH_THREADS", "two"), ("QA_TORCH_THREADS", "0"), ("QA_LOG_LEVEL", "LOUD")]:
        with pytest.raises(ConfigError, match=name):
            settings.torch_threads({name: value}) if "THREADS" in name else settings.log_level({name: value})
    assert issubclass(ConfigError, QAError)


def test_a_bad_setting_is_one_line_from_the_cli(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("QA_LOG_LEVEL", "chatty")
    code = main(["--index-dir", str(tmp_path / "lib"), "index", "list"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "qa: error: QA_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'CHATTY'\n"
    assert not (tmp_path / "lib").exists()


def test_log_level_info_shows_what_the_library_does_by_itself(capsys, monkeypatch, tmp_path, embedder):
    monkeypatch.setenv("QA_LOG_LEVEL", "ERROR")
    assert main(["--index-dir", str(tmp_path / "lib"), "index", "list"]) == 0
    assert "new library" not in capsys.readouterr().err  # a warning, silenced at ERROR
    monkeypatch.setenv("QA_LOG_LEVEL", "WARNING")
    assert main(["--index-dir", str(tmp_path / "lib2"), "index", "list"]) == 0
    assert "qa: new library at" in capsys.readouterr().err


def public_definitions(packages) -> tuple[int, list[str]]:
    """How many public functions and classes (methods included) the packages define, and those
    without a docstring."""
    total, missing = 0, []
    for pkg in packages:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            def visit(nodes, prefix, path=path):
                nonlocal total
                for n in nodes:
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and \
                            not n.name.startswith("_"):
                        total += 1
                        if not ast.get_docstring(n):
                            missing.append(f"{path.relative_to(ROOT)}:{n.lineno} {prefix}{n.name}")
                        if isinstance(n, ast.ClassDef):
                            visit(n.body, f"{prefix}{n.name}.")
            visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return total, missing


def test_public_definitions_are_documented():
    """Every one in the core and the UI; at least 95 % over the whole tree (eval included)."""
    total, missing = public_definitions(PACKAGES)
    assert 1 - len(missing) / total >= 0.95, "\n".join(missing)


def test_every_public_name_of_the_core_and_ui_has_a_docstring():
    missing = []
    for pkg in ("qa", "index", "ui"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            def visit(nodes, prefix, path=path):
                for n in nodes:
                    if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and \
                            not n.name.startswith("_"):
                        if not ast.get_docstring(n):
                            missing.append(f"{path.relative_to(ROOT)}:{n.lineno} {prefix}{n.name}")
                        if isinstance(n, ast.ClassDef):
                            visit(n.body, f"{prefix}{n.name}.")
            visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    assert not missing, "\n".join(missing)


def test_a_module_over_400_lines_says_why_at_its_top():
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > 400:
                assert text.startswith('"""(Over 400 lines:'), path


INDEX_INTERNALS = {"sentence_table", "passage_table", "sentence_bm25", "passage_bm25", "sentence_index",
                   "passage_index"}


def test_qa_and_ui_use_the_index_through_its_read_api_only():
    """No reaching into the index's tables from above: what retrieval and answering need is
    methods of ArticleIndex (search, BM25 scores, rows of a document, neighbours, text by id)."""
    for pkg in ("qa", "ui"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value
                named_index = (isinstance(owner, ast.Name) and owner.id == "index") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "index")
                if named_index:
                    assert node.attr not in INDEX_INTERNALS and not node.attr.startswith("_"), (
                        f"{path.relative_to(ROOT)}:{node.lineno} reads index.{node.attr}")
