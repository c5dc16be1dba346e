"""The repository stands on its own: a clone with nothing beside it reads its data and runs the
eval. The clone is of the committed tree (as CI checks it out), in a folder with no ``shared/``
beside it, run with this environment's installed packages but the clone's own modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_no_code_looks_outside_the_repository():
    for folder in ("qa", "index", "ui", "eval", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == Path(__file__).name:
                continue
            text = path.read_text(encoding="utf-8")
            assert '"shared"' not in text and "../shared" not in text, path


def test_data_ships_gzipped_in_eval_data():
    from eval.squad import SQUAD2_DEV, SQUAD11_TRAIN, load_articles

    assert SQUAD2_DEV.parent == ROOT / "eval" / "data" and SQUAD2_DEV.name.endswith(".json.gz")
    dev = load_articles(SQUAD2_DEV)
    assert len(dev) == 18 and sum(len(a.questions) for a in dev) == 6307
    train = load_articles(SQUAD11_TRAIN)
    assert len(train) == 440 and sum(len(a.questions) for a in train) == 86144
    assert not {a.title for a in dev} & {a.title for a in train}


@pytest.mark.slow
def test_a_fresh_clone_runs_the_eval_with_nothing_beside_it(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "lonely" / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone), "QA_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("QA_DATA_DIR", None)
    out = tmp_path / "report"
    code = (
        "import eval.squad as s, qa; "
        f"assert str(s.SQUAD2_DEV).startswith({str(clone)!r}), s.SQUAD2_DEV; "
        f"assert qa.__file__.startswith({str(clone)!r}), qa.__file__; "
        "from eval.run import main; "
        f"raise SystemExit(main(['--suite', 'squad', '--limit', '1', '--out', {str(out)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["results"]["squad"]["engine"]["metrics"]["questions"] > 100
