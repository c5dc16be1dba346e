"""A short, bounded load test against the running server (the long form is in docs/performance.md)."""

from __future__ import annotations

import json

import pytest

from eval.bench.load import run_load
from tests.conftest import ARTIFACTS


@pytest.mark.parametrize("api", ["rest", "gradio"])
def test_concurrent_users_while_articles_are_added(app_url, api):
    result = run_load(app_url, users=6, seconds=10, api=api)
    summary = result.summary()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"load-test-{api}.json").write_text(json.dumps(summary, indent=1))
    assert result.errors == [] and result.inexact == 0
    assert summary["asks"] >= 6  # every user was served
    assert summary["adds_and_removes"] >= 2  # and the library changed under them
