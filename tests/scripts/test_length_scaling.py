"""scripts/length_scaling.py: bench files by length gathered into one table."""

from __future__ import annotations

import json
from pathlib import Path

from tests.script_loader import load_script


def script():
    return load_script("length_scaling")


def test_bench_files_by_length_become_one_table_relative_to_none(tmp_path: Path) -> None:
    scaling = script()

    def bench(length: int, results: list[dict]) -> Path:
        path = tmp_path / f"bench-{length}.json"
        path.write_text(json.dumps({"results": results}))
        return path

    paths = {
        128: bench(128, [{"name": "none", "train_step_ms": 10.0},
                         {"name": "alibi", "train_step_ms": 12.0}]),
        512: bench(512, [{"name": "none", "train_step_ms": 40.0},
                         {"name": "alibi", "train_step_ms": None,
                          "error": "torch.OutOfMemoryError: CUDA out of memory"}]),
        2048: tmp_path / "never-written.json",
    }  # fmt: skip
    table = scaling.gather(paths)
    assert table["alibi"][128]["vs_none"] == 1.2 and 2048 not in table["none"]
    text = scaling.markdown(table)
    assert "| model | T=128 | T=512 | exponent |" in text
    assert "| alibi | 12.0 (1.20×) | OOM | – |" in text
    assert "| none | 10.0 (1.00×) | 40.0 (1.00×) | 1.00 ± 0.00 |" in text  # 4× for 4× length
    assert scaling.plot(table, tmp_path / "plot.png").is_file()


def test_tokens_per_step_shrink_the_batch_as_length_grows() -> None:
    scaling = script()
    assert scaling.batch_for(2048, 16384) == ["--batch-size", "8"]
    assert scaling.batch_for(8192, 16384) == ["--batch-size", "2"]
    assert scaling.batch_for(32768, 16384) == ["--batch-size", "1"]  # never below one
    assert scaling.batch_for(2048, None) == []
