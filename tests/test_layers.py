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
LAYER = {"index": 0, "qa": 1, "ui": 2, "eval": 2}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["index", "qa", "ui", "eval"])
def test_no_module_imports_a_layer_above_its_own(package):
    for path in sorted((ROOT / package).glob("*.py")):
        for name in imported_packages(path) & LAYER.keys():
            assert LAYER[name] <= LAYER[package] and not (package == "ui" and name == "eval"), (
                f"{path.relative_to(ROOT)} imports {name}")


def test_the_core_imports_no_ui_or_eval_library():
    core = {p for pkg in ("index", "qa") for p in (ROOT / pkg).glob("*.py")}
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
    for pkg in ("index", "qa", "ui", "eval"):
        for path in (ROOT / pkg).glob("*.py"):
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


def test_every_public_name_of_the_core_and_ui_has_a_docstring():
    missing = []
    for pkg in ("qa", "index", "ui"):
        for path in sorted((ROOT / pkg).glob("*.py")):
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
    for pkg in ("qa", "index", "ui", "eval"):
        for path in (ROOT / pkg).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") > 420:
                assert text.startswith('"""(Over 400 lines:'), path


INDEX_INTERNALS = {"sentence_table", "passage_table", "sentence_bm25", "passage_bm25", "sentence_index",
                   "passage_index"}


def test_qa_and_ui_use_the_index_through_its_read_api_only():
    """No reaching into the index's tables from above: what retrieval and answering need is
    methods of ArticleIndex (search, BM25 scores, rows of a document, neighbours, text by id)."""
    for pkg in ("qa", "ui"):
        for path in sorted((ROOT / pkg).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value
                named_index = (isinstance(owner, ast.Name) and owner.id == "index") or (
                    isinstance(owner, ast.Attribute) and owner.attr == "index")
                if named_index:
                    assert node.attr not in INDEX_INTERNALS and not node.attr.startswith("_"), (
                        f"{path.relative_to(ROOT)}:{node.lineno} reads index.{node.attr}")
