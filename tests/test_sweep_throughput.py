"""scripts/sweep_throughput.py: the sweep call per worker count and the rates it reports."""

from __future__ import annotations

from pathlib import Path

from tests.scripts import load_script


def script():
    return load_script("sweep_throughput")


def test_workers_share_gpu_zero_on_cuda_and_are_processes_on_cpu(tmp_path: Path) -> None:
    tp = script()
    cuda = tp.command("s.yaml", "quarter", 3, "cuda", tmp_path)
    assert cuda[cuda.index("--gpus") + 1] == "0,0,0" and "--workers" not in cuda
    cpu = tp.command("s.yaml", None, 2, "cpu", tmp_path)
    assert cpu[cpu.index("--workers") + 1] == "2" and "--scale" not in cpu


def test_rates_count_runs_in_the_window_and_the_steady_rate() -> None:
    tp = script()
    r = tp.rates([5.0, 20.0, 35.0, 50.0, 130.0], started=0.0, stopped=60.0)  # 130: after
    assert r["runs"] == 4 and r["runs_per_min"] == 4.0
    assert r["steady_runs_per_min"] == 4.0  # 3 runs in the 45 s after the first
    assert r["first_run_s"] == 5.0
    none = tp.rates([], 0.0, 60.0)
    assert none["runs"] == 0 and none["steady_runs_per_min"] is None
    text = tp.markdown([{"workers": 1, **none}])
    assert "| 1 | 0 | 60.0 | 0.0 | – | – |" in text
