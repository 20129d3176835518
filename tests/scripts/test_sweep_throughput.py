"""scripts/sweep_throughput.py: the sweep call per worker count and the rates it reports."""

from __future__ import annotations

from pathlib import Path

from tests.script_loader import load_script


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
    text = tp.markdown([{"workers": 1, **none, **tp.breakdown([])}])
    assert "| 1 | 0 | 60.0 | 0.0 | – | – | – | – | – | – |" in text


def test_breakdown_gives_mean_startup_and_each_phases_share_of_wall_time() -> None:
    tp = script()
    from pebench.benchmark.run.record import RunRecord

    ran = {"task": "copy", "encoding": "rope", "seed": 1}
    runs = [RunRecord.from_json({**ran, **doc}) for doc in [
        {"wall_time_s": 10.0, "startup_s": 1.0, "train_step_time_s": 6.0,
         "between_steps_time_s": 1.0, "eval_time_s": 2.0},
        {"wall_time_s": 30.0, "startup_s": 3.0, "train_step_time_s": 12.0,
         "between_steps_time_s": 1.0, "eval_time_s": 14.0},
        {"wall_time_s": 0.0, "startup_s": None},  # an older metrics.json: no eval time
    ]]  # fmt: skip
    b = tp.breakdown(runs)
    assert b == {"startup_s": 2.0, "train steps": 45.0, "between steps": 5.0, "evaluation": 40.0}
    text = tp.markdown([{"workers": 2, **tp.rates([1.0], 0.0, 60.0), **b}])
    assert text.splitlines()[-1].endswith("| 2.0 | 45.0 | 5.0 | 40.0 |")
