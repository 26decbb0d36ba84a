"""Benchmark caches: cells are kept while the script and the genlab modules that made them are unchanged."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from _common import _module_files, _sha256_of, code_matches, code_version  # noqa: E402

sys.path.remove(str(REPO / "benchmarks"))


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "bench.py"
    path.write_text("print('benchmark')\n")
    return path


def test_the_modules_loaded_are_recorded_and_match_until_changed(script):
    import genlab.errors  # noqa: F401

    recorded = code_version(script)
    assert "genlab.errors" in recorded["genlab_modules"]
    assert code_matches(recorded, script)
    script.write_text("print('benchmark, changed')\n")
    assert not code_matches(recorded, script)


def test_a_changed_module_invalidates_and_an_unused_one_does_not(script, tmp_path, monkeypatch):
    (tmp_path / "used_module.py").write_text("X = 1\n")
    (tmp_path / "unused_module.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    recorded = {**code_version(script), "genlab_modules": ["used_module"]}
    recorded["genlab_sha256"] = _sha256_of(_module_files(["used_module"]))
    assert code_matches(recorded, script)
    (tmp_path / "unused_module.py").write_text("Y = 2\n")
    assert code_matches(recorded, script)
    (tmp_path / "used_module.py").write_text("X = 2\n")
    assert not code_matches(recorded, script)


@pytest.mark.parametrize("recorded", [None, {}, {"script_sha256": "x", "genlab_sha256": "y"},
                                      {"script_sha256": "x", "genlab_sha256": "y", "genlab_modules": ["genlab.no_such"]}])
def test_old_or_unreadable_records_do_not_match(script, recorded):
    assert not code_matches(recorded, script)


def test_a_rerun_of_some_image_candidates_keeps_the_others_cells():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import anomaly_image_weight as bench
    finally:
        sys.path.remove(str(REPO / "benchmarks"))

    old, new = list(bench.CANDIDATES)[:2]
    current = {"code": code_version(bench.__file__), "cell_code": bench.cell_code()}
    stale = {"code": {**current["code"], "genlab_sha256": "made by other code"}, "cell_code": current["cell_code"]}

    def state():
        return {"protocol": {"candidates": bench.CANDIDATES}, "made_by": {old: stale, new: current},
                "mnist": {old: {"0": {"auroc": {}}}, new: {"0": {"auroc": {}}}}}

    kept = bench.kept_cells(state(), [new])  # the stale candidate is not rerun: its cells and record stay
    assert set(kept["mnist"]) == {old, new} and set(kept["made_by"]) == {old, new}
    kept = bench.kept_cells(state(), [old, new])  # rerun: only the stale candidate's cells are recomputed
    assert set(kept["mnist"]) == {new} and set(kept["made_by"]) == {new}
    changed = state()
    changed["protocol"]["candidates"] = {**bench.CANDIDATES, new: {"train.epochs": 1}}  # other settings recorded
    assert bench.kept_cells(changed, [new])["mnist"] == {old: {"0": {"auroc": {}}}}
