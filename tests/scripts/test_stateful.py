"""train_char_rnn.py --stateful (truncated BPTT through the Trainer) and its streaming evaluation, end to end."""

import json
import shutil
import sys

import pytest
import torch
from safetensors.torch import load_file

from test_train_char_rnn import run_script, small_corpus  # noqa: F401 (a fixture)


def stateful_args(train_file, output_dir, max_steps, *more):
    return ["--do_train", "--do_eval", "--train_file", train_file, "--output_dir", output_dir, "--stateful",
            "--train_sampling_strategy", "sequential", "--config_overrides", "hidden_size=16,cell_type=lstm,dropout=0",
            "--window_length", 30, "--eval_window_length", 40, "--per_device_train_batch_size", 8,
            "--per_device_eval_batch_size", 32, "--max_steps", max_steps, "--save_steps", 5, "--learning_rate", 3e-3,
            "--test_split_percentage", 0, "--validation_split_percentage", 10, "--report_to", "none",
            "--disable_tqdm", "true", "--seed", 7, "--dataloader_num_workers", 0, *more]


def test_stateful_script_reports_windowed_and_streaming_losses_and_resumes_exactly(small_corpus, tmp_path):
    # 10,800 training characters, 8 streams of 44 windows of 30: checkpoint 10 is in the middle of the first epoch.
    first = tmp_path / "first"
    run_script(*stateful_args(small_corpus, first, 12))
    assert (first / "checkpoint-10" / "recurrent_state-0.safetensors").is_file()
    validation = json.loads((first / "validation_results.json").read_text())
    assert validation["validation_loss_windowed_40"] == validation["validation_loss"]
    assert validation["validation_perplexity_streaming"] == pytest.approx(
        2.718281828 ** validation["validation_loss_streaming"], rel=1e-6)
    assert abs(validation["validation_loss_streaming"] - validation["validation_loss"]) > 1e-4
    card = (first / "README.md").read_text()
    assert "stateful (truncated BPTT): 8 contiguous streams" in card
    assert "validation loss (nats/char), windowed" in card and "validation loss (nats/char), streaming" in card
    assert f"{round(validation['validation_loss_streaming'], 4)}" in card

    resumed = tmp_path / "resumed"
    shutil.copytree(first / "checkpoint-10", resumed / "checkpoint-10")
    run_script(*stateful_args(small_corpus, resumed, 12, "--resume_from_checkpoint", resumed / "checkpoint-10"))
    resumed_weights = load_file(resumed / "model.safetensors")
    for name, tensor in load_file(first / "model.safetensors").items():
        torch.testing.assert_close(resumed_weights[name], tensor, msg=name)


def test_stateful_script_under_accelerate_gives_each_process_its_streams(small_corpus, tmp_path):
    pytest.importorskip("accelerate")
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    output_dir = tmp_path / "ddp"
    result = run_script(*stateful_args(small_corpus, output_dir, 5, "--use_cpu", "--log_level", "info",
                                       "--no_streaming_evaluation"), launcher=launcher)
    log = result.stdout + result.stderr
    assert "Total train batch size (w. parallel, distributed & accumulation) = 16" in log
    # 16 streams of 22 windows: each process its 8 streams, and its own carried state in the checkpoint.
    assert "'train': 352" in log
    states = [load_file(output_dir / "checkpoint-5" / f"recurrent_state-{rank}.safetensors") for rank in (0, 1)]
    assert not torch.equal(states[0]["state_0"], states[1]["state_0"])
    assert "validation_loss_streaming" not in json.loads((output_dir / "validation_results.json").read_text())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((), r"--stateful .* pass --train_sampling_strategy sequential \(got 'random'"),
        (("--train_sampling_strategy", "sequential", "--per_device_train_batch_size", 400),
         r"--stateful needs at least --per_device_train_batch_size × processes × --window_length \+ 1 = 400 × 1"),
        (("--train_sampling_strategy", "sequential", "--stride", 3), r"--stride 3 does not apply with --stateful"),
        (("--train_sampling_strategy", "sequential", "--max_train_samples", 10), r"--max_train_samples .* --stateful"),
    ],
)
def test_stateful_script_rejects_flags_that_break_the_streams(small_corpus, tmp_path, flags, message):
    args = ["--do_train", "--train_file", small_corpus, "--output_dir", tmp_path / "out", "--stateful",
            "--config_overrides", "hidden_size=8", "--window_length", 30, "--report_to", "none", *flags]
    with pytest.raises(AssertionError, match=message):
        run_script(*args)
