"""``make gpu-check``'s verdicts, checked on CPU with made-up bench results."""

from __future__ import annotations

import json
from pathlib import Path

from tests.script_loader import load_script


def gpu_check():
    return load_script("gpu_check")


def test_bench_passes_with_out_of_memory_rows_and_fails_on_errors_or_gaps(tmp_path: Path) -> None:
    check = gpu_check()
    path = tmp_path / "bench.json"

    def verdict(results: list[dict], wanted: list[str]) -> tuple[bool, str]:
        path.write_text(json.dumps({"results": results}))
        step = check._bench(check.Step("bench", True, 1.0, ""), path, wanted)
        return step.ok, step.summary

    fine = {"name": "none", "error": None}
    oom = {"name": "cope", "error": "torch.OutOfMemoryError: CUDA out of memory."}
    broken = {"name": "t5", "error": "benchmarking 't5' failed: InductorError"}
    assert verdict([fine, oom], ["none", "cope"]) == (True, "1 measured; out of memory: cope")
    ok, summary = verdict([fine, broken], ["none", "t5"])
    assert not ok and "failed: t5" in summary
    ok, summary = verdict([fine], ["none", "alibi"])
    assert not ok and "not reached: alibi" in summary
    assert check.BIAS_FIRST[0] == "none" and "alibi" in check.BIAS_FIRST


def test_opt_ins_report_before_and_after_and_never_fail(tmp_path: Path) -> None:
    check = gpu_check()
    default, opt_in = tmp_path / "bench.json", tmp_path / "opt.json"
    default.write_text(json.dumps({"results": [
        {"name": "alibi", "train_step_ms": 84.6}, {"name": "shaw", "train_step_ms": 2258.6},
    ]}))  # fmt: skip
    opt_in.write_text(json.dumps({"results": [
        {"name": "alibi", "train_step_ms": 60.0, "attention_path": "flex"},
        {"name": "shaw", "train_step_ms": None, "error": "CUDA out of memory"},
    ]}))  # fmt: skip
    step = check._opt_ins(check.Step("bench-opt-ins", False, 1.0, ""), opt_in, default)
    assert step.ok
    assert "alibi 84.6 → 60.0 ms (flex)" in step.summary
    assert "shaw CUDA out of memory" in step.summary
    assert "transformer_xl not reached" in step.summary


def test_the_copy_run_reports_where_its_time_went(tmp_path: Path) -> None:
    check = gpu_check()
    metrics = {
        "task": "copy", "encoding": "alibi", "seed": 0,
        "device": "cuda:0", "gpu": "NVIDIA H200", "wall_time_s": 20.0, "startup_s": 1.5,
        "steps": 1500, "train_step_time_s": 12.0, "between_steps_time_s": 0.5,
        "eval_time_s": 7.0, "summary": {"ood_exact_match": 0.33},
    }  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    step = check._train_copy(check.Step("train-copy-alibi", True, 1.0, ""), tmp_path)
    assert step.ok
    assert step.summary == (
        "cuda:0 NVIDIA H200; wall 20 s: start-up 1.5 s, steps 12.0 s (8.0 ms each), "
        "between 0.5 s, evaluation 7.0 s; OOD exact 0.33"
    )
    (tmp_path / "metrics.json").write_text(json.dumps({**metrics, "device": "cpu"}))
    assert not check._train_copy(check.Step("train-copy-alibi", True, 1.0, ""), tmp_path).ok
