"""What a first day with pebench trips over: bad values get one line before anything loads or
is written, and a failed run leaves no half-made run directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pebench.benchmark.cli import main
from pebench.benchmark.run.parser import precheck
from pebench.benchmark.run.train import train
from pebench.errors import PebenchError
from tests.benchmark.sweep.test_faults import OutOfMemory
from tests.specs import copy_spec

BAD_VALUES = [
    (["--max-steps", "-1"], "train.max_steps must be at least 1, got -1"),
    (["--max-steps", "0"], "train.max_steps must be at least 1, got 0"),
    (["--max-steps", "5", "--eval-every", "0"], "train.eval_every must be at least 1"),
    (["--lr", "-1"], "optim.lr must be greater than 0, got -1.0"),
    (["--batch-size", "0"], "train.batch_size must be at least 1, got 0"),
    (["--model.dropout", "1.5"], "model.dropout must be in [0, 1)"),
    (["--d-model", "0"], "model.d_model must be at least 1"),
]


@pytest.mark.parametrize(("args", "message"), BAD_VALUES, ids=lambda a: " ".join(a))
def test_bad_values_are_one_line_before_anything_is_written(
    tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--task", "copy", "--encoding", "rope", *args, "--output-dir", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_bad_values_are_caught_by_the_torch_free_pass() -> None:
    """The ranges are checked before torch and Lightning load (a user error answers at once)."""
    code = (
        "import sys\n"
        "from pebench.benchmark.run.parser import precheck\n"
        "from pebench.errors import PebenchError\n"
        "try:\n"
        "    args = ['--task', 'copy', '--encoding', 'rope', '--train.max_steps', '0']\n"
        "    precheck('train', args)\n"
        "except PebenchError as exc:\n"
        "    print('refused' if 'max_steps' in str(exc) else exc)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["refused", "False"]
    with pytest.raises(PebenchError, match="optim.lr must be greater than 0"):
        precheck("train", ["--task", "copy", "--encoding", "rope", "--optim.lr", "0"])


def test_a_run_that_fails_before_a_checkpoint_leaves_no_config(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path, "cpu")
    spec.encoding = OutOfMemory
    spec.config_yaml = "encoding: tests.benchmark.sweep.test_faults.OutOfMemory\n"
    with pytest.raises(torch.cuda.OutOfMemoryError):
        train(spec)
    assert not (tmp_path / "run" / "config.yaml").exists()


def _sweep_error(tmp_path: Path, text: str) -> str:
    from pebench.benchmark.sweep.config import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(PebenchError) as caught:
        load_sweep(path)
    return str(caught.value)


SWEEP = """\
name: s
tasks: [{name: copy, task: copy}]
encodings: [rope, {class_path: my_encodings.ScaledALiBi, label: scaled_alibi}]
trials: 2
pruner: {type: none}
"""


def test_a_when_value_that_matches_no_encoding_label_is_refused(tmp_path: Path) -> None:
    """Written from the README with a dotted path's class name: it would match nothing and
    leave the option at its default in every trial."""
    when = "when: {encoding: [ScaledALiBi]}"
    space = f"search_space: {{encoding.base: {{low: 10.0, high: 100.0, {when}}}}}\n"
    message = _sweep_error(tmp_path, SWEEP + space)
    assert "when encoding 'ScaledALiBi' matches no encoding of the sweep" in message
    assert "rope, scaled_alibi" in message


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path: Path) -> None:
    from pebench.benchmark.sweep.config import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text(SWEEP + "search_space: {optim.lr: {low: 1e-4, high: 1e-2, log: true}}\n")
    sweep, _ = load_sweep(path)
    assert sweep.search_space["optim.lr"].low == 1e-4
    assert sweep.search_space["optim.lr"].kind == "float"


def test_an_unknown_sweep_key_gets_a_suggestion_and_the_full_list(tmp_path: Path) -> None:
    message = _sweep_error(tmp_path, SWEEP.replace("trials: 2", "trails: 2"))
    assert "unknown setting 'trails' (did you mean 'trials'?)" in message
    assert "scales" in message and "scale" in message


def test_a_sweep_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    message = _sweep_error(tmp_path, SWEEP + "seeds: [1, 2\n")
    assert message.startswith(f"{tmp_path / 's.yaml'}:")
    line = int(message.split(":")[1])
    assert line >= 6 and "not valid YAML" in message


class _CtrlCAt:
    """A callback that presses Ctrl-C after ``step`` training steps."""

    def __init__(self, step: int) -> None:
        from lightning.pytorch.callbacks import Callback

        outer = self

        class Press(Callback):
            def on_train_batch_end(self, trainer, *args) -> None:
                if trainer.global_step >= outer.step:
                    raise KeyboardInterrupt

        self.step, self.callback = step, Press()


@pytest.mark.parametrize(("checkpoint_every", "hint"), [
    (100, "no checkpoint yet (the first comes at step 100): rerun the same command"),
    (2, "continue with the same command plus --resume"),
])  # fmt: skip
def test_the_interrupt_hint_matches_what_can_be_resumed(
    tmp_path: Path, checkpoint_every: int, hint: str
) -> None:
    from pebench.errors import RunInterrupted

    spec = copy_spec(tmp_path, "cpu")
    spec.train.max_steps, spec.train.checkpoint_every = 10, checkpoint_every
    with pytest.raises(RunInterrupted) as caught:
        train(spec, callbacks=[_CtrlCAt(3).callback])
    assert hint in caught.value.hint


def test_the_progress_bar_counts_steps_not_epochs() -> None:
    from types import SimpleNamespace

    from pebench.benchmark.run.train import StepProgressBar

    bar = StepProgressBar()
    bar._trainer = SimpleNamespace(max_steps=1500, max_epochs=-1)
    assert bar._get_train_description(0).strip() == "Training (1,500 steps)"


TINY_RUN = ["--max-steps", "4", "--batch-size", "4", "--d-model", "16", "--layers", "1",
            "--heads", "2", "--train.progress", "false", "--train.accelerator", "cpu",
            "--task.train_lengths", "[1, 3]", "--task.eval_lengths", "[1, 4]"]  # fmt: skip


def test_train_logs_to_wandb_when_asked(tmp_path: Path) -> None:
    from tests.wandb_records import read_runs_when_written

    out = tmp_path / "run"
    argv = ["train", "--task", "copy", "--encoding", "alibi", *TINY_RUN, "--output-dir", str(out)]
    assert main([*argv, "--wandb", "offline"]) == 0
    (run,) = read_runs_when_written(out, 1)
    assert run.job_type == "train" and run.group == "copy/alibi" and run.tags == ["copy", "alibi"]
    assert run.config["encoding"] == "alibi" and run.config["model.d_model"] == 16
    assert run.config["task.eval_lengths"] == [1, 4] and run.config["train.max_steps"] == 4
    assert run.summary["per_length/_type"] == "table-file"
    assert main([*argv[:-1], str(tmp_path / "quiet")]) == 0  # disabled unless asked
    assert not (tmp_path / "quiet" / "wandb").exists()


def test_a_bad_wandb_mode_is_one_line(capsys) -> None:
    assert main(["train", "--task", "copy", "--encoding", "alibi", "--wandb", "loud"]) == 2
    assert "--wandb takes one of online, offline, disabled, got 'loud'" in capsys.readouterr().err


def test_rebuilding_a_leaderboard_updates_one_wandb_run(tmp_path: Path) -> None:
    from pebench.benchmark.cli.sweep import run_sweep
    from tests.benchmark.sweep.test_sweep import write_sweep
    from tests.wandb_records import read_runs_when_written

    path = write_sweep(tmp_path, encodings=["alibi"], trials=0, search_space={}, seeds=[1],
                       pruner={"type": "none"})  # fmt: skip
    run_sweep(path, output_dir=tmp_path / "out", wandb="disabled")
    for _ in range(2):
        argv = ["leaderboard", "--output-dir", str(tmp_path / "out"), "--wandb", "offline"]
        assert main(argv) == 0
    runs = read_runs_when_written(tmp_path / "out", 2)
    assert len(runs) == 2 and {r.run_id for r in runs} == {"tiny-leaderboard"}  # one W&B run


def test_the_declared_torch_minimum_has_what_pebench_uses() -> None:
    """pyproject.toml's torch floor is the release that has everything pebench calls:
    FlexAttention with block masks (2.5), nn.RMSNorm and per-device autocast queries (2.4)."""
    import re
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    (floor,) = [m for d in deps if (m := re.match(r"torch>=(\d+)\.(\d+)", d))]
    assert floor is not None and (int(floor[1]), int(floor[2])) >= (2, 5)
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    assert callable(create_block_mask) and callable(flex_attention)
    assert hasattr(torch.nn, "RMSNorm") and callable(torch.get_autocast_dtype)


def test_encoding_help_shows_the_whole_description_with_each_option(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "--encoding.help", "rope"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--encoding.fraction" in out  # the option list, with types and defaults
    assert "q·k depends only on the distance between positions" in out  # not cut at "so:"
    assert "``fraction`` of each head's dimensions rotated" in out  # what the option means


def test_sweep_and_output_dir_mistakes_answer_before_torch_loads(tmp_path: Path) -> None:
    """A sweep file's syntax error and a finished output directory are reported by the
    torch-free pass (no second of Lightning start-up before a typo's answer)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks: [\n")
    finished = tmp_path / "done"
    finished.mkdir()
    (finished / "metrics.json").write_text("{}")
    code = (
        "import sys\n"
        "from pebench.benchmark.cli import main\n"
        f"a = main(['sweep', {str(bad)!r}])\n"
        f"b = main(['train', '--task', 'copy', '--encoding', 'rope', '--output-dir', "
        f"{str(finished)!r}])\n"
        "print(a, b, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["2", "2", "False"]
    assert f"{bad}:3: not valid YAML" in done.stderr
    assert "already holds a finished run" in done.stderr


def test_threads_follow_the_model_size_and_the_free_cores(monkeypatch) -> None:
    from pebench.benchmark.run import settings
    from pebench.benchmark.run.settings import ModelConfig, choose_threads

    monkeypatch.delenv("PEBENCH_NUM_THREADS", raising=False)
    assert choose_threads(ModelConfig(d_model=64, num_layers=2))[0] == 1  # tiny: one thread
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(settings.os, "getloadavg", lambda: (5.2, 0.0, 0.0))
    threads, why = choose_threads(ModelConfig(d_model=512, num_layers=8))
    assert threads == 3 and "3 of 8 cores free" in why  # the cores another job leaves
    monkeypatch.setenv("PEBENCH_NUM_THREADS", "4")
    assert choose_threads(ModelConfig(d_model=512, num_layers=8)) == (4, "as requested")


def test_threads_option_is_checked_and_shown_in_the_run_header(tmp_path: Path, capsys) -> None:
    argv = ["train", "--task", "copy", "--encoding", "alibi", *TINY_RUN]
    assert main([*argv, "--threads", "0"]) == 2
    assert "--threads takes a whole number of at least 1" in capsys.readouterr().err
    assert main([*argv, "--threads", "1", "--output-dir", str(tmp_path / "r")]) == 0
    assert "1 CPU thread(s) (as requested" in " ".join(capsys.readouterr().out.split())
