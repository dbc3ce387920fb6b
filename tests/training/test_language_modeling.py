"""Stateful (truncated-BPTT) training of the char-RNN through the Trainer, and streaming evaluation."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.training.data import char_windows
from rnnformers.tokenization import build_char_tokenizer
from rnnformers.training.language_modeling import (
    StatefulTrainingCallback,
    stream_window_collator,
    stream_windows,
    streaming_loss,
)

from conftest import ROOT, SHAKESPEARE


@pytest.fixture(scope="module")
def text_and_ids(shakespeare_text):
    text = shakespeare_text[:3_001]
    tokenizer = build_char_tokenizer(text)
    return tokenizer, np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"])


def tiny_model(vocab_size, cell_type="lstm", seed=0):
    torch.manual_seed(seed)
    config = CharRNNConfig(vocab_size=vocab_size, embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.0,
                           cell_type=cell_type)
    return CharRNNForCausalLM(config)


def stateful_trainer(model, dataset, output_dir, batch_size, **overrides):
    arguments = dict(output_dir=str(output_dir), per_device_train_batch_size=batch_size, learning_rate=1e-2,
                     train_sampling_strategy="sequential", report_to="none", save_strategy="no", disable_tqdm=True,
                     logging_strategy="no", seed=0, dataloader_num_workers=0)
    arguments.update(overrides)
    return Trainer(model=model, args=TrainingArguments(**arguments), train_dataset=dataset,
                   data_collator=stream_window_collator, callbacks=[StatefulTrainingCallback()])


def test_stream_windows_give_each_batch_row_of_each_process_one_contiguous_stream():
    ids = np.arange(200)
    batch_size, num_processes, window_length = 2, 2, 3
    dataset = stream_windows(ids, window_length, batch_size, num_processes)
    windows = np.asarray(dataset["input_ids"])
    assert windows.shape == (4 * 16, 4)  # 199 // (4 × 3) = 16 windows per stream; 4 streams
    np.testing.assert_array_equal(dataset["labels"], dataset["input_ids"])
    batches = windows.reshape(-1, batch_size, window_length + 1)
    for process in range(num_processes):
        own = batches[process::num_processes]  # accelerate gives each process every num_processes-th batch
        for row in range(batch_size):
            stream = own[:, row]
            # Consecutive windows of a row overlap by one token and together read one stretch of the text.
            np.testing.assert_array_equal(stream[1:, 0], stream[:-1, -1])
            text = np.concatenate([stream[0], *(window[1:] for window in stream[1:])])
            start = (process * batch_size + row) * 16 * window_length
            np.testing.assert_array_equal(text, ids[start : start + 16 * window_length + 1])


def test_stream_windows_reject_a_text_shorter_than_one_window_per_stream():
    with pytest.raises(ValueError, match=r"--stateful needs at least --per_device_train_batch_size.*text has 40"):
        stream_windows(np.arange(40), window_length=10, batch_size=4)
    assert len(stream_windows(np.arange(41), window_length=10, batch_size=4)) == 4


def loss_of(model, window, past_key_values=None):
    """Loss and state of `model` reading all but the last token of each row of `window` and predicting the next."""
    outputs = model(window[:, :-1], past_key_values=past_key_values, use_cache=True)
    loss = F.cross_entropy(outputs.logits.flatten(0, 1), window[:, 1:].flatten())
    return loss, outputs.past_key_values


def as_tensor(rows) -> torch.Tensor:
    return torch.as_tensor(np.asarray(rows), dtype=torch.long)


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_trainer_carries_the_state_like_one_forward_over_each_whole_stream(text_and_ids, tmp_path, cell_type):
    # With a learning rate of 0 the weights stay put, so the loss of each training step of two stateful epochs must be
    # the loss of its stretch of the streams when each stream is read in one forward pass: the state carried from
    # window to window, reset at each epoch's start.
    tokenizer, ids = text_and_ids
    batch_size, window_length = 4, 50
    dataset = stream_windows(ids, window_length, batch_size)
    model = tiny_model(len(tokenizer), cell_type)
    with torch.no_grad():
        model.base_model.rnn.weight_hh_l0.mul_(4)  # a longer memory, so that a forgotten state shows in the loss
    trainer = stateful_trainer(model, dataset, tmp_path, batch_size, learning_rate=0.0, num_train_epochs=2,
                               logging_strategy="steps", logging_steps=1)
    trainer.train()
    step_losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]

    windows_per_stream = len(dataset) // batch_size
    stream_length = windows_per_stream * window_length
    streams = as_tensor([ids[s * stream_length : (s + 1) * stream_length + 1] for s in range(batch_size)])
    with torch.no_grad():
        logits = model(streams[:, :-1]).logits
        per_token = F.cross_entropy(logits.transpose(1, 2), streams[:, 1:], reduction="none")
        whole_streams = [per_token[:, k * window_length : (k + 1) * window_length].mean().item()
                         for k in range(windows_per_stream)]
        windows = as_tensor(dataset["input_ids"]).view(windows_per_stream, batch_size, -1)
        state_reset = [loss_of(model, window)[0].item() for window in windows]
    assert len(step_losses) == 2 * windows_per_stream
    np.testing.assert_allclose(step_losses, whole_streams * 2, atol=2e-5)
    # The test can tell a carried state from a reset one: resetting changes some step's loss by 25 × the tolerance.
    assert np.abs(np.subtract(state_reset, whole_streams)).max() > 5e-4
    # After training the hooks are gone: in training mode the model reads a window from a zero state again.
    model.train()
    torch.testing.assert_close(model(windows[1]).logits, model(windows[1], past_key_values=None).logits)


def test_gradient_accumulation_steps_over_consecutive_windows(text_and_ids, tmp_path):
    # One optimizer step of 2 accumulated micro-batches = SGD on the mean loss of windows 0 and 1 of each stream,
    # window 1 starting from the detached state window 0 ended with.
    tokenizer, ids = text_and_ids
    batch_size, window_length, learning_rate = 3, 40, 0.5
    dataset = stream_windows(ids, window_length, batch_size)
    model = tiny_model(len(tokenizer))
    reference = tiny_model(len(tokenizer))
    trainer = stateful_trainer(model, dataset, tmp_path, batch_size, learning_rate=learning_rate, optim="sgd",
                               lr_scheduler_type="constant", max_grad_norm=0.0, gradient_accumulation_steps=2,
                               max_steps=1)
    trainer.train()

    windows = as_tensor(dataset["input_ids"][: 2 * batch_size])
    first_loss, state = loss_of(reference, windows[:batch_size])
    second_loss, _ = loss_of(reference, windows[batch_size:], state.detach_())
    ((first_loss + second_loss) / 2).backward()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter -= learning_rate * parameter.grad
    for (name, trained), expected in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(trained, expected, msg=name)


def test_resume_from_a_checkpoint_is_exact(text_and_ids, tmp_path):
    # 15 steps per epoch: checkpoint 9 is in the middle of the first epoch, 15 at the end of it, 18 in the second.
    tokenizer, ids = text_and_ids
    batch_size = 4
    dataset = stream_windows(ids, 50, batch_size)
    assert len(dataset) // batch_size == 15
    run = dict(max_steps=21, save_strategy="steps", save_steps=3)
    uninterrupted = tiny_model(len(tokenizer))
    stateful_trainer(uninterrupted, dataset, tmp_path / "first", batch_size, **run).train()
    assert (tmp_path / "first" / "checkpoint-9" / "recurrent_state-0.safetensors").is_file()

    for step in (9, 15, 18):
        resumed_dir = tmp_path / f"resumed-{step}"
        shutil.copytree(tmp_path / "first" / f"checkpoint-{step}", resumed_dir / f"checkpoint-{step}")
        resumed = tiny_model(len(tokenizer), seed=1)
        trainer = stateful_trainer(resumed, dataset, resumed_dir, batch_size, **run)
        trainer.train(resume_from_checkpoint=str(resumed_dir / f"checkpoint-{step}"))
        for (name, weight), expected in zip(resumed.named_parameters(), uninterrupted.parameters()):
            torch.testing.assert_close(weight, expected, msg=f"{name} (resumed at step {step})")

    # Without the carried state a mid-epoch resume would silently start from zeros: it refuses instead.
    (resumed_dir / "checkpoint-18" / "recurrent_state-0.safetensors").unlink()
    trainer = stateful_trainer(tiny_model(len(tokenizer)), dataset, resumed_dir, batch_size, **run)
    with pytest.raises(ValueError, match="recurrent_state-0.safetensors"):
        trainer.train(resume_from_checkpoint=str(resumed_dir / "checkpoint-18"))


@pytest.mark.parametrize("strategy", ["random", "group_by_length"])
def test_stateful_training_refuses_a_sampler_that_reorders_windows(text_and_ids, tmp_path, strategy):
    tokenizer, ids = text_and_ids
    trainer = stateful_trainer(tiny_model(len(tokenizer)), stream_windows(ids, 50, 4), tmp_path, 4,
                               train_sampling_strategy=strategy, max_steps=1)
    with pytest.raises(ValueError, match=f"--train_sampling_strategy sequential \\(got '{strategy}'"):
        trainer.train()


def test_stateful_training_refuses_windows_built_for_another_batch_size(text_and_ids, tmp_path):
    tokenizer, ids = text_and_ids
    for dataset in (stream_windows(ids, 40, 5),  # 15 windows per stream: 75 rows, not a multiple of 4
                    stream_windows(ids, 50, 6),  # 60 rows, but row 4 does not continue row 0
                    char_windows(ids, 50, 50)):  # windows in the order of the text
        trainer = stateful_trainer(tiny_model(len(tokenizer)), dataset, tmp_path, 4, max_steps=1)
        with pytest.raises(ValueError, match=r"not laid out for --per_device_train_batch_size × processes = 4"):
            trainer.train()


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_streaming_loss_equals_one_forward_over_the_whole_text(text_and_ids, cell_type):
    tokenizer, ids = text_and_ids
    model = tiny_model(len(tokenizer), cell_type)
    text = torch.as_tensor(ids[:700], dtype=torch.long).unsqueeze(0)
    with torch.no_grad():
        expected = model(text, labels=text).loss.item()
    for chunk_length in (64, 699, 5000):
        assert streaming_loss(model, ids[:700], chunk_length=chunk_length) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        streaming_loss(model, ids[:1])


TWO_PROCESS_PROGRAM = """
import json, sys
import numpy as np, torch, torch.nn.functional as F
from transformers import Trainer, TrainingArguments
from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.tokenization import build_char_tokenizer
from rnnformers.training.language_modeling import StatefulTrainingCallback, stream_window_collator, stream_windows

text = open(sys.argv[1], encoding="utf-8").read()[:3_001]
tokenizer = build_char_tokenizer(text)
ids = np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"])
args = TrainingArguments(output_dir=sys.argv[2], use_cpu=True, per_device_train_batch_size=2, learning_rate=0.0,
                         num_train_epochs=1, train_sampling_strategy="sequential", report_to="none",
                         save_strategy="no", logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
batch_size, window_length = 2, 50
dataset = stream_windows(ids, window_length, batch_size, num_processes=args.world_size)
torch.manual_seed(0)
model = CharRNNForCausalLM(CharRNNConfig(vocab_size=len(tokenizer), embedding_dim=8, hidden_size=16, dropout=0.0,
                                         cell_type="lstm"))
with torch.no_grad():
    model.base_model.rnn.weight_hh_l0.mul_(4)
losses = []  # the model divides by the tokens of both processes (average_tokens_across_devices): scale back
model.register_forward_hook(
    lambda module, inputs, output: losses.append(output.loss.item() * args.world_size) if module.training else None
)
trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=stream_window_collator,
                  callbacks=[StatefulTrainingCallback()])
trainer.train()

# This process's streams, each read in one forward pass.
windows_per_stream = len(dataset) // (batch_size * args.world_size)
stream_length = windows_per_stream * window_length
own = range(args.process_index * batch_size, (args.process_index + 1) * batch_size)
streams = torch.as_tensor(np.stack([ids[s * stream_length : (s + 1) * stream_length + 1] for s in own]))
model.eval()
with torch.no_grad():
    per_token = F.cross_entropy(model(streams[:, :-1]).logits.transpose(1, 2), streams[:, 1:], reduction="none")
expected = [per_token[:, k * window_length : (k + 1) * window_length].mean().item() for k in range(windows_per_stream)]
result = {"world_size": args.world_size, "losses": losses, "expected": expected}
with open(f"{sys.argv[2]}/result-{args.process_index}.json", "w") as file:
    json.dump(result, file)
"""


def test_two_processes_each_carry_their_own_streams(tmp_path):
    # Under `accelerate launch` with 2 processes, each process trains on its own 2 streams, its batch rows carrying
    # their state: its step losses (weights frozen) are those of its streams read in one pass.
    pytest.importorskip("accelerate")
    program = tmp_path / "two_processes.py"
    program.write_text(TWO_PROCESS_PROGRAM)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([*launcher, str(program), str(SHAKESPEARE), str(tmp_path)], capture_output=True,
                            text=True, timeout=600, env=env, cwd=ROOT)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    results = [json.loads((tmp_path / f"result-{rank}.json").read_text()) for rank in (0, 1)]
    for rank, outcome in enumerate(results):
        assert outcome["world_size"] == 2
        assert len(outcome["losses"]) == len(outcome["expected"]) == 3000 // (4 * 50)
        np.testing.assert_allclose(outcome["losses"], outcome["expected"], atol=2e-5, err_msg=f"process {rank}")
    assert results[0]["expected"] != results[1]["expected"]  # different streams


def test_stream_window_collator_reads_each_token_once_and_keeps_the_window_loss(text_and_ids):
    tokenizer, ids = text_and_ids
    features = [row for row in char_windows(ids[:500], 40, 40)][:6]
    batch = stream_window_collator(features)
    windows = as_tensor([feature["input_ids"] for feature in features])
    torch.testing.assert_close(batch["input_ids"], windows[:, :-1])
    torch.testing.assert_close(batch["shift_labels"], windows[:, 1:])
    model = tiny_model(len(tokenizer)).eval()
    with torch.no_grad():
        usual = model(input_ids=windows, labels=windows).loss
        collated = model(**batch).loss
    torch.testing.assert_close(collated, usual)
    assert batch["input_ids"].shape == (6, 40)  # the last token, which predicts nothing, is not read
