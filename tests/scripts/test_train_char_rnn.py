"""Training the char-RNN: the Trainer API learns, the script runs end to end, resumes exactly, and runs under accelerate."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import Trainer, TrainingArguments, default_data_collator

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.training.data import char_windows, split_text
from rnnformers.tokenization import build_char_tokenizer

from conftest import ROOT


SCRIPT = ROOT / "scripts" / "train_char_rnn.py"


def test_trainer_learns_a_repeated_sentence(tmp_path):
    text = "the quick brown fox jumps over the lazy dog.\n" * 60
    tokenizer = build_char_tokenizer(text)
    parts = split_text(text, validation_fraction=0.1, test_fraction=0.0)
    windows = {name: char_windows(tokenizer(part)["input_ids"], 20, 3) for name, part in parts.items()}
    torch.manual_seed(0)
    model = CharRNNForCausalLM(CharRNNConfig(vocab_size=len(tokenizer), hidden_size=48, dropout=0.0))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=120, per_device_train_batch_size=16,
                             learning_rate=1e-2, report_to="none", save_strategy="no", disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=windows["train"], eval_dataset=windows["validation"],
                      data_collator=default_data_collator)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert before > 2.5  # about log(30): a uniform guess over the characters
    assert after < 0.3, (before, after)
    prompt = tokenizer("the quick brown", return_tensors="pt")["input_ids"]
    completion = model.generate(prompt, max_new_tokens=15, do_sample=False, pad_token_id=0)
    assert tokenizer.decode(completion[0]) == "the quick brown fox jumps over"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, shakespeare_text):
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(shakespeare_text[:12_000], encoding="utf-8")
    return path


def run_script(*args, launcher=(sys.executable,), timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([*launcher, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=ROOT)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result


def tiny_run_args(train_file, output_dir, max_steps):
    return ["--do_train", "--do_eval", "--do_predict", "--train_file", train_file, "--output_dir", output_dir,
            "--config_overrides", "hidden_size=16", "--window_length", 30,
            "--stride", 7, "--max_steps", max_steps, "--save_steps", 10, "--per_device_train_batch_size", 8,
            "--per_device_eval_batch_size", 32, "--learning_rate", 3e-3, "--logging_steps", 5, "--report_to", "none",
            "--disable_tqdm", "true", "--seed", 7, "--dataloader_num_workers", 0]


def test_script_trains_evaluates_writes_a_hub_ready_folder_and_resumes_exactly(small_corpus, tmp_path):
    first = tmp_path / "first"
    result = run_script(*tiny_run_args(small_corpus, first, 30))
    for name in ("model.safetensors", "config.json", "modeling_char_rnn.py", "configuration_char_rnn.py",
                 "tokenizer.json", "README.md", "validation_results.json", "test_results.json", "checkpoint-20"):
        assert (first / name).exists(), name
    validation = json.loads((first / "validation_results.json").read_text())
    assert validation["validation_perplexity"] == pytest.approx(2.718281828 ** validation["validation_loss"], rel=1e-6)
    card = (first / "README.md").read_text()
    assert "library_name: transformers" in card and "pipeline_tag: text-generation" in card
    assert "type: perplexity" in card and f"{round(validation['validation_perplexity'], 4)}" in card
    assert "--- sample (temperature 0.6) ---" in result.stdout

    # An interrupted run resumed from its checkpoint ends with the very weights of the uninterrupted one.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(first / "checkpoint-20", resumed / "checkpoint-20")
    result = run_script(*tiny_run_args(small_corpus, resumed, 30), "--resume_from_checkpoint",
                        resumed / "checkpoint-20")
    state = json.loads((resumed / "trainer_state.json").read_text())
    assert state["global_step"] == 30
    first_weights = load_file(first / "model.safetensors")
    resumed_weights = load_file(resumed / "model.safetensors")
    for name, tensor in first_weights.items():
        torch.testing.assert_close(resumed_weights[name], tensor, msg=name)

    # --do_eval --do_predict without --do_train score a saved folder on the same split: the figures of the training
    # run come back, and the new folder's card states no training hyperparameters.
    scored = tmp_path / "scored"
    scoring_args = ["--do_eval", "--do_predict", "--model_name_or_path", first, "--train_file", small_corpus,
                    "--window_length", 30, "--report_to", "none", "--disable_tqdm", "true"]
    run_script(*scoring_args, "--output_dir", scored)
    rescored = json.loads((scored / "validation_results.json").read_text())
    assert rescored["validation_loss"] == pytest.approx(validation["validation_loss"], rel=1e-5)
    assert not (scored / "train_results.json").exists()
    scored_card = (scored / "README.md").read_text()
    assert "Not trained by this run" in scored_card and "learning rate" not in scored_card
    assert "learning rate" in card

    # Scoring a folder into itself writes its results files and leaves its card and tokenizer as they were.
    card_bytes, tokenizer_bytes = (first / "README.md").read_bytes(), (first / "tokenizer.json").read_bytes()
    (first / "validation_results.json").unlink()
    run_script(*scoring_args, "--output_dir", first)
    assert (first / "README.md").read_bytes() == card_bytes
    assert (first / "tokenizer.json").read_bytes() == tokenizer_bytes
    assert json.loads((first / "validation_results.json").read_text())["validation_loss"] == pytest.approx(
        validation["validation_loss"], rel=1e-5)

    # Training again into the finished folder is refused, naming both ways out; --overwrite_output_dir allows it.
    with pytest.raises(AssertionError, match="--overwrite_output_dir.*--resume_from_checkpoint .*checkpoint-30"):
        run_script(*tiny_run_args(small_corpus, first, 2))
    run_script(*tiny_run_args(small_corpus, first, 2), "--overwrite_output_dir", "--save_strategy", "no")
    assert json.loads((first / "trainer_state.json").read_text())["global_step"] == 2


def test_script_runs_under_accelerate_with_two_processes(small_corpus, tmp_path):
    pytest.importorskip("accelerate")
    # accelerate's multi-process launcher (torchrun); `--use_cpu` makes the processes a gloo group on CPUs
    # (accelerate's `--cpu` flag would start a single process).
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    output_dir = tmp_path / "ddp"
    result = run_script(*tiny_run_args(small_corpus, output_dir, 6), "--use_cpu", "--log_level", "info",
                        launcher=launcher)
    log = result.stdout + result.stderr
    assert "Total train batch size (w. parallel, distributed & accumulation) = 16" in log
    assert (output_dir / "model.safetensors").is_file() and (output_dir / "README.md").is_file()
    assert log.count("--- sample (temperature 0.6) ---") == 1  # only the main process writes and samples


def test_script_rejects_a_missing_train_file(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--do_train", "--train_file", tmp_path / "nope.txt",
                             "--output_dir", tmp_path / "out"], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=300)
    assert result.returncode != 0
    assert "--train_file" in result.stderr and "does not exist" in result.stderr


def test_script_reads_a_dataset_through_load_dataset(shakespeare_text, tmp_path):
    # --dataset_name goes through datasets.load_dataset, which also takes a local folder of data files.
    data_dir = tmp_path / "my_dataset"
    data_dir.mkdir()
    (data_dir / "train.txt").write_text(shakespeare_text[:6_000], encoding="utf-8")
    output_dir = tmp_path / "out"
    run_script("--do_train", "--do_eval", "--dataset_name", data_dir, "--output_dir", output_dir,
               "--config_overrides", "hidden_size=8", "--window_length", 20,
               "--stride", 20, "--max_steps", 2, "--report_to", "none", "--disable_tqdm", "true",
               "--per_device_eval_batch_size", 64)
    card = (output_dir / "README.md").read_text()
    assert str(data_dir) in card and "type: perplexity" in card
    with pytest.raises(AssertionError, match="--text_column 'body' is not a column"):
        run_script("--do_train", "--dataset_name", data_dir, "--text_column", "body", "--output_dir", tmp_path / "bad")


def test_script_trains_a_backward_model_on_a_table_and_extra_files(shakespeare_text, tmp_path):
    # Flair's / ELMo's second direction: `reads_backward=true` reverses every part. The validation figure the script
    # reports must be the saved model's loss on the *reversed* validation part (the forward text scores otherwise).
    from datasets import Dataset

    from rnnformers.training.language_modeling import streaming_loss

    lines = [line for line in shakespeare_text[:20_000].split("\n") if line.strip()]
    table = tmp_path / "texts.parquet"
    Dataset.from_dict({"body": lines[:300]}).to_parquet(table)
    conllu = tmp_path / "extra.conllu"
    conllu.write_text("# sent_id = 1\n1\tΩmega\t_\tADJ\t_\t_\t0\troot\t_\t_\n2\twords\t_\tNOUN\t_\t_\t1\tdep\t_\t_\n\n",
                      encoding="utf-8")
    output_dir = tmp_path / "backward"
    run_script("--do_train", "--do_eval", "--train_file", table, "--text_column", "body", "--extra_train_files", conllu,
               "--output_dir", output_dir, "--config_overrides", "hidden_size=16,reads_backward=true",
               "--window_length", 20, "--stride", 20, "--max_steps", 40, "--learning_rate", 1e-2, "--report_to", "none",
               "--disable_tqdm", "true", "--per_device_eval_batch_size", 64)
    model = CharRNNForCausalLM.from_pretrained(output_dir)
    assert model.config.reads_backward is True
    card = (output_dir / "README.md").read_text()
    assert "read backwards" in card and "extra.conllu" in card and '"at the station"[::-1]' in card

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    assert "Ω" not in shakespeare_text and "Ω" in tokenizer.get_vocab()  # the extra file's text joined training
    validation = split_text("\n".join(lines[:300]))["validation"]
    reported = json.loads((output_dir / "validation_results.json").read_text())["validation_loss_streaming"]
    ids = tokenizer(validation[::-1], add_special_tokens=False)["input_ids"]
    forward_ids = tokenizer(validation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        assert streaming_loss(model, ids) == pytest.approx(reported, abs=1e-5)
        assert abs(streaming_loss(model, forward_ids) - reported) > 1e-3


def test_encode_characters_in_chunks_matches_one_call(shakespeare_text):
    from rnnformers.training.data import encode_characters

    text = shakespeare_text[:5_000]
    tokenizer = build_char_tokenizer(text[:4_000])  # characters of the rest may be unknown
    expected = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert encode_characters(tokenizer, text, chunk_length=777).tolist() == expected
    assert encode_characters(tokenizer, "").tolist() == []
