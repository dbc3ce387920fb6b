"""Checkpoint averaging on real Trainer checkpoints: the mean weights, the kept integer buffers, a loadable folder
without the training state, and named errors for checkpoints of different models."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, models
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from rnnformers import GRUConfig, GRUForSequenceClassification, RNNTaggerConfig, RNNTaggerForTokenClassification
from rnnformers.training.checkpoints import average_checkpoints


ROOT = Path(__file__).resolve().parents[2]
VOCAB = {"<pad>": 0, "<unk>": 1, **{f"w{i}": i for i in range(2, 10)}}


def tokenizer_with(vocab: dict) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), pad_token="<pad>", unk_token="<unk>"
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A Trainer run of a tiny tagger with character features (an integer buffer), checkpointed every 3 steps."""
    output = tmp_path_factory.mktemp("run")
    tokenizer = tokenizer_with(VOCAB)
    torch.manual_seed(0)
    config = RNNTaggerConfig(vocab_size=10, embedding_dim=8, hidden_size=8, num_layers=1, char_features=4,
                             id2label={0: "A", 1: "B"}, label2id={"A": 0, "B": 1})
    model = RNNTaggerForTokenClassification(config)
    model.base_model.set_token_strings(tokenizer.convert_ids_to_tokens(list(range(10))))
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(64):
        ids = torch.randint(2, 10, (6,), generator=generator).tolist()
        rows.append({"input_ids": ids, "labels": [token % 2 for token in ids]})
    args = TrainingArguments(output_dir=str(output), per_device_train_batch_size=8, learning_rate=1e-2, max_steps=9,
                             save_steps=3, use_cpu=True, report_to="none", logging_strategy="no", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    trainer.train()
    return output


def test_the_average_is_the_mean_of_the_weights_and_a_complete_model(run_dir, tmp_path):
    folders = [run_dir / f"checkpoint-{step}" for step in (3, 6, 9)]
    output = average_checkpoints(folders, tmp_path / "mean")
    weights = [load_file(folder / "model.safetensors") for folder in folders]
    averaged = load_file(output / "model.safetensors")
    assert averaged.keys() == weights[0].keys()
    assert averaged["rnn_tagger.char_encoder.token_chars"].dtype == torch.int64  # an integer buffer is among them
    moved = 0
    for name, tensor in averaged.items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, sum(w[name] for w in weights) / 3, rtol=0, atol=1e-6)
            moved += not torch.equal(weights[0][name], weights[2][name])
        else:  # the character table is data, not a weight
            assert torch.equal(tensor, weights[2][name])
    assert moved > 0, "training moved no weight between the checkpoints: the test would prove nothing"

    files = {path.name for path in output.iterdir()}
    assert {"config.json", "tokenizer.json", "model.safetensors", "README.md"} <= files
    assert "checkpoint-3" in (output / "README.md").read_text()
    assert not files & {"optimizer.pt", "scheduler.pt", "trainer_state.json", "rng_state.pth", "training_args.bin"}
    assert json.loads((output / "averaged_checkpoints.json").read_text())["checkpoints"] == [str(f) for f in folders]
    model = AutoModelForTokenClassification.from_pretrained(output)
    torch.testing.assert_close(model.classifier.weight, averaged["classifier.weight"])


def test_the_script_averages_the_latest_checkpoints_of_a_run(run_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "average_checkpoints.py"), str(run_dir), "--last", "2",
         "--output_dir", str(tmp_path / "mean")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "mean" / "averaged_checkpoints.json").read_text())["checkpoints"]
    assert [Path(path).name for path in recorded] == ["checkpoint-6", "checkpoint-9"]

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "average_checkpoints.py"), str(run_dir), "--last", "5",
         "--output_dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "fewer than --last 5" in result.stderr
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "average_checkpoints.py"), str(run_dir), "--last", "0",
         "--output_dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "--last must be at least 2" in result.stderr


def test_checkpoints_of_different_models_or_tokenizers_are_refused(run_dir, tmp_path):
    first, last = run_dir / "checkpoint-3", run_dir / "checkpoint-9"
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints([first], tmp_path / "a")
    with pytest.raises(ValueError, match="given twice"):
        average_checkpoints([first, first], tmp_path / "a")
    for inside_or_holding in (last, last / "mean", run_dir):
        with pytest.raises(ValueError, match="is, holds or lies inside the averaged checkpoint"):
            average_checkpoints([first, last], inside_or_holding, overwrite=True)
    assert (last / "model.safetensors").is_file()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        average_checkpoints([first, last], tmp_path / "full")

    other_config = tmp_path / "other-config"
    RNNTaggerForTokenClassification(RNNTaggerConfig(vocab_size=10, embedding_dim=8, hidden_size=6, num_layers=1,
                                                    char_features=4)).save_pretrained(other_config)
    tokenizer_with(VOCAB).save_pretrained(other_config)
    with pytest.raises(ValueError, match="other-config/config.json is not the configuration"):
        average_checkpoints([other_config, last], tmp_path / "a")

    other_tokenizer = tmp_path / "other-tokenizer"
    AutoModelForTokenClassification.from_pretrained(last).save_pretrained(other_tokenizer)
    tokenizer_with({**VOCAB, "w9": 2, "w2": 9}).save_pretrained(other_tokenizer)
    with pytest.raises(ValueError, match="other-tokenizer/tokenizer.json is not the tokenizer"):
        average_checkpoints([other_tokenizer, last], tmp_path / "a")

    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((last / "config.json").read_text())
    with pytest.raises(ValueError, match="no-weights holds no model.safetensors"):
        average_checkpoints([no_weights, last], tmp_path / "a")
    with pytest.raises(ValueError, match="holds no config.json"):
        average_checkpoints([tmp_path / "full", last], tmp_path / "a")


def test_integer_buffers_must_agree_and_batch_norm_counters_come_from_the_last_checkpoint(run_dir, tmp_path):
    first, last = run_dir / "checkpoint-3", run_dir / "checkpoint-9"
    other_chars = tmp_path / "other-chars"
    model = AutoModelForTokenClassification.from_pretrained(first)
    model.base_model.set_token_strings([f"x{i}" for i in range(10)])
    model.save_pretrained(other_chars)
    shutil.copy(first / "tokenizer.json", other_chars / "tokenizer.json")
    with pytest.raises(ValueError, match="the integer buffer `rnn_tagger.char_encoder.token_chars` differs"):
        average_checkpoints([other_chars, last], tmp_path / "a")

    torch.manual_seed(0)
    config = GRUConfig(vocab_size=10, embedding_dim=4, hidden_size=4, num_layers=1, pooling="mean_max",
                       classifier_batch_norm=True)
    folders = []
    for batches in (3, 5):
        model = GRUForSequenceClassification(config).train()
        for _ in range(batches):
            model(torch.randint(1, 10, (4, 5)))
        folders.append(tmp_path / f"bn-{batches}")
        model.save_pretrained(folders[-1])
    output = average_checkpoints(folders, tmp_path / "bn-mean")
    averaged = load_file(output / "model.safetensors")
    assert averaged["pooled_norm.num_batches_tracked"] == 5
    weights = [load_file(folder / "model.safetensors") for folder in folders]
    torch.testing.assert_close(averaged["pooled_norm.running_mean"],
                               (weights[0]["pooled_norm.running_mean"] + weights[1]["pooled_norm.running_mean"]) / 2)
