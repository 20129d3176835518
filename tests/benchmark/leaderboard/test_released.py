"""`pebench compare-reference`: released figures against a sweep's final runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pebench.benchmark.cli import main
from pebench.benchmark.leaderboard.released import (
    REFERENCE_DIR_ENV,
    compare,
    load_reference_spec,
    reference_dir,
)
from pebench.errors import PebenchError

HEADER = (
    "model,params,encoding,dataset,split,scratchpad,seeds,id_seq_acc_valid,ood_seq_acc_test,"
    "ood_seq_acc_test_std,group\n"
)
RESULTS = HEADER + """tiny,1,none,s2s_copy,cmc_tr2_ts4,,3,0.6000,0.2000,0.1000,g1
tiny,1,abs_sin,s2s_copy,cmc_tr2_ts4,,3,0.9000,0.0100,0.0010,g2
big,9,none,s2s_copy,cmc_tr2_ts4,,3,1.0000,0.9000,0.0100,g3
"""
PER_LENGTH = """model,encoding,dataset,split,set,length,seq_acc
tiny,none,s2s_copy,cmc_tr2_ts4,valid,1,0.7000
tiny,none,s2s_copy,cmc_tr2_ts4,valid,2,0.5000
tiny,none,s2s_copy,cmc_tr2_ts4,test,3,0.3000
tiny,none,s2s_copy,cmc_tr2_ts4,test,4,0.1000
"""
SPEC = """
study: toy
models: {xsmall: tiny, base: big}
tasks: {cmc: {dataset: s2s_copy, split: cmc_tr2_ts4}}
encodings: {none: none, sinusoidal: abs_sin}
"""


def metrics(id_em: float, ood_em: float) -> dict:
    return {
        "task": "cmc",
        "encoding": "none",
        "seed": 1,
        "summary": {"id_exact_match": id_em},
        "per_length": {"1": {"exact_match": id_em}, "2": {"exact_match": id_em}},
        "test": {
            "summary": {"ood_exact_match": ood_em},
            "per_length": {"3": {"exact_match": ood_em}, "4": {"exact_match": ood_em}},
        },
    }


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    ref = tmp_path / "reference" / "toy"
    ref.mkdir(parents=True)
    (ref / "results.csv").write_text(RESULTS)
    (ref / "per_length.csv").write_text(PER_LENGTH)
    monkeypatch.setenv(REFERENCE_DIR_ENV, str(tmp_path / "reference"))
    spec = tmp_path / "toy.yaml"
    spec.write_text(SPEC)
    results = tmp_path / "sweep"
    # none: ID 0.62 (|Δ| 0.02 ≤ 0.05), OOD 0.45 (|Δ| 0.25 > 2 × 0.1): half agrees
    for seed, (i, o) in enumerate([(0.60, 0.40), (0.62, 0.45), (0.64, 0.50)], start=1):
        run = results / "final" / "cmc" / "none" / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps(metrics(i, o)))
    return spec, results


def test_rows_hold_both_sides_and_the_verdicts(setup: tuple[Path, Path]) -> None:
    spec_path, results = setup
    rows = compare(load_reference_spec(spec_path), results, "xsmall")
    none, sinusoidal = rows
    assert none["seeds"] == 3 and none["released_id"] == 0.6 and none["released_ood"] == 0.2
    assert none["pebench_id"] == pytest.approx(0.62)
    assert none["pebench_ood"] == pytest.approx(0.45)
    assert none["pebench_ood_std"] == pytest.approx(0.05)
    assert none["id_band"] == 0.05 and none["id_within"] is True
    assert none["ood_band"] == pytest.approx(0.2) and none["ood_within"] is False
    assert sinusoidal["seeds"] == 0 and sinusoidal["ood_within"] is None
    base = compare(load_reference_spec(spec_path), results, "base")
    assert base[0]["released_ood"] == 0.9


def test_command_writes_table_csv_and_overlay(setup: tuple[Path, Path], capsys) -> None:
    spec_path, results = setup
    assert main(["compare-reference", str(spec_path), str(results)]) == 0
    md = (results / "reference_comparison.md").read_text()
    assert "| cmc | none | 0.600 | 0.620 | +0.020 | yes | 0.200 ± 0.100 |" in md
    assert "0 of 1 compared cells agree on both ID and OOD" in md
    rows = list(csv.DictReader((results / "reference_comparison.csv").open()))
    assert [r["ood_within"] for r in rows] == ["False", ""]
    assert (results / "reference_cmc.png").stat().st_size > 0


def test_user_errors_are_one_line(setup: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    spec_path, results = setup
    with pytest.raises(PebenchError, match="no model for scale 'huge'"):
        compare(load_reference_spec(spec_path), results, "huge")
    assert main(["compare-reference", str(spec_path), str(tmp_path / "nowhere")]) == 2
    assert "holds no final runs" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC + "colour: red\n")
    with pytest.raises(PebenchError, match="unknown setting 'colour'"):
        load_reference_spec(bad)


def released_kazemnejad2023() -> Path:
    """The released Kazemnejad et al. figures, where compare-reference reads them; skips the
    test when they are not there."""
    shared = reference_dir() / "kazemnejad2023" / "results.csv"
    if not shared.is_file():
        pytest.skip(f"{reference_dir()} holds no kazemnejad2023 figures")
    return shared


def test_shipped_spec_matches_the_shared_figures() -> None:
    spec = load_reference_spec(Path("configs/references/kazemnejad2023.yaml"))
    shared = released_kazemnejad2023()
    rows = list(csv.DictReader(shared.open()))
    for model in spec.models.values():
        for where in spec.tasks.values():
            for released in spec.encodings.values():
                assert any(
                    (r["model"], r["dataset"], r["split"], r["encoding"])
                    == (model, where.dataset, where.split, released)
                    for r in rows
                ), (model, where, released)


@pytest.mark.parametrize(
    ("results", "scale"),
    [("kazemnejad2023-xsmall", "xsmall"), ("kazemnejad2023-xsmall-t5", "xsmall-t5")],
)
def test_committed_comparison_regenerates_byte_identical(
    tmp_path: Path, results: str, scale: str
) -> None:
    """The committed comparison tables are rebuilt from the committed runs and the released
    figures alone (no result was typed into them)."""
    from tests.benchmark.leaderboard.test_leaderboard import committed_copy

    released_kazemnejad2023()
    source, copy = committed_copy(tmp_path, results)
    for name in ("reference_comparison.md", "reference_comparison.csv"):
        (copy / name).unlink()
    spec = "configs/references/kazemnejad2023.yaml"
    assert main(["compare-reference", spec, str(copy), "--scale", scale]) == 0
    for name in ("reference_comparison.md", "reference_comparison.csv"):
        assert (copy / name).read_bytes() == (source / name).read_bytes(), name
