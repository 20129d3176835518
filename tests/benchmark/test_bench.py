"""`pebench bench` runs end to end on a tiny size; its baseline is the same model size built
from torch.nn.TransformerEncoderLayer. No timing is asserted: only that figures exist and
ratios are consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pebench.benchmark import bench
from pebench.benchmark.cli import main
from pebench.errors import PebenchError

TINY = bench.BenchSize(d_model=16, num_layers=1, num_heads=2, seq_len=12, batch_size=2)
QUICK = bench.BenchOptions(warmup=0, repeats=1, steps=1)


def test_bench_command_writes_table_and_json(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    out = tmp_path / "b" / "bench.json"
    argv = ["bench", "--encodings", "none", "alibi", "t5", "learned", "--d-model", "16"]
    argv += ["--num-layers", "1", "--num-heads", "2", "--seq-len", "40", "--batch-size", "2"]
    argv += ["--warmup", "0", "--repeats", "1", "--steps", "1", "--isolate", "false"]
    assert main([*argv, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert bench.BASELINE in printed and "synthetic data" in printed
    document = json.loads(out.read_text())
    names = [r["name"] for r in document["results"]]
    assert names == [bench.BASELINE, "none", "alibi", "t5", "learned"]  # learned past 256: sized
    by_name = {r["name"]: r for r in document["results"]}
    assert by_name["none"]["ratios"]["step_vs_none"] == 1.0
    assert by_name[bench.BASELINE]["ratios"][f"throughput_vs_{bench.BASELINE}"] == 1.0
    for r in document["results"]:
        assert r["train_tokens_per_s"] > 0 and r["infer_tokens_per_s"] > 0
        expected = r["train_step_ms"] / by_name["none"]["train_step_ms"]
        assert r["ratios"]["step_vs_none"] == pytest.approx(expected)
    assert document["size"]["seq_len"] == 40 and document["synthetic_batch_ms"] > 0
    assert bench.tokens_per_second(out)["alibi"] == by_name["alibi"]["train_tokens_per_s"]


def test_isolated_measurement_reports_its_own_peak_memory() -> None:
    result = bench.measure_isolated("rope", TINY, QUICK)
    assert result.name == "rope" and result.peak_memory_mb is not None
    assert result.peak_memory_mb >= 0 and result.train_tokens_per_s > 0


def test_baseline_has_the_same_size_and_is_causal() -> None:
    torch.manual_seed(0)
    baseline = bench.build_model(bench.BASELINE, TINY)
    ours = bench.build_model("sinusoidal", TINY)
    assert sum(p.numel() for p in baseline.parameters()) == sum(
        p.numel() for p in ours.parameters()
    )
    tokens = torch.randint(TINY.vocab_size, (1, TINY.seq_len))
    changed = tokens.clone()
    changed[0, -1] = (changed[0, -1] + 1) % TINY.vocab_size
    with torch.no_grad():
        assert torch.allclose(baseline(tokens)[0, :-1], baseline(changed)[0, :-1], atol=1e-5)
        assert not torch.allclose(baseline(tokens)[0, -1], baseline(changed)[0, -1])


def test_mfu_uses_the_device_peak() -> None:
    options = bench.BenchOptions(warmup=0, repeats=1, steps=1, isolate=False, peak_tflops=1.0)
    result = bench.measure("none", TINY, options)
    model = bench.build_model("none", TINY)
    flops = bench.flops_per_token(model, TINY) * result.train_tokens_per_s
    assert result.mfu == pytest.approx(flops / 1e12)


def test_bench_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["bench", "--encodings", "alibbi", "--output", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown encoding 'alibbi'" in err and "did you mean 'alibi'" in err
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(PebenchError, match="--precision must be 32 or bf16"):
        bench.run_bench(["none"], TINY, bench.BenchOptions(precision="fp8", isolate=False))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(PebenchError, match="is not a pebench bench result"):
        bench.tokens_per_second(tmp_path / "bad.json")


@pytest.mark.parametrize("peak_tflops", [None, 312.0])
def test_bench_tables_fit_80_columns_without_cutting_a_figure(peak_tflops) -> None:
    from rich.console import Console

    def row(name: str, step_ms: float) -> bench.Measurement:
        mfu = None if peak_tflops is None else 0.123
        ratios = {f"throughput_vs_{bench.BASELINE}": 1.25, f"step_vs_{bench.REFERENCE}": 3.5}
        return bench.Measurement(
            name, 1_234_567, step_ms, 12_345_678.0, 98_765_432.0, 123_456.0, 45.6, mfu, ratios
        )

    results = [row(bench.BASELINE, 1.0), row("stick_breaking", 12_345.6), row("none", 2.0)]
    options = bench.BenchOptions(peak_tflops=peak_tflops)
    console = Console(width=80, record=True, color_system=None)
    for table in bench.tables(results, bench.BenchSize(), options):
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for figure in ("1,234,567", "12,345.6", "12,345,678", "98,765,432", "123,456", "3.50×"):
        assert figure in text
    assert ("12.3%" in text) == (peak_tflops is not None)


def test_bench_honours_the_requested_cpu_threads(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PEBENCH_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the tests' own setting is already 1
    try:
        out = tmp_path / "bench.json"
        argv = ["bench", "--encodings", "none", "--d-model", "16", "--num-layers", "1"]
        argv += ["--num-heads", "2", "--seq-len", "8", "--batch-size", "2", "--warmup", "0"]
        argv += ["--repeats", "1", "--steps", "1", "--isolate", "false", "--output", str(out)]
        assert main(argv) == 0
        assert json.loads(out.read_text())["environment"]["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_a_model_that_fails_is_a_row_not_an_abort(monkeypatch) -> None:
    """Out of memory or a kernel that does not compile: that model's row says why, the
    others are measured (make gpu-check relies on this)."""
    real = bench.measure_isolated

    def measure(name: str, size: bench.BenchSize, options: bench.BenchOptions):
        if name == "alibi":
            raise PebenchError("benchmarking 'alibi' failed: torch.OutOfMemoryError: CUDA out")
        return real(name, size, options)

    monkeypatch.setattr(bench, "measure_isolated", measure)
    results = bench.run_bench(["none", "alibi"], TINY, QUICK)
    by_name = {r.name: r for r in results}
    assert by_name["alibi"].error is not None and "OutOfMemoryError" in by_name["alibi"].error
    assert by_name["none"].error is None and by_name["none"].train_step_ms > 0
    assert by_name["none"].attention_path == "sdpa"
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    for table in bench.tables(results, TINY, QUICK):
        console.print(table)
    assert "Not measured" in console.export_text()
