"""The sentiment scripts end to end on a small toy dataset: tokenizer CLI, training script (Trainer, evaluate, early
stopping, model card), `pipeline("text-classification")` on the saved folder, the evaluation script, and remote code
from a Hub-cache snapshot with rnnformers blocked."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import AutoTokenizer, BertConfig, BertModel, pipeline

import rnnformers  # noqa: F401  (registers "gru" with the Auto classes: a saved folder then loads without remote code)
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.data import load_sentiment_splits

from conftest import ROOT, load_script, make_hub_snapshot, run_python_without_rnnformers


POSITIVE, NEGATIVE = "great wonderful superb loved".split(), "awful boring terrible hated".split()
FILLER = "the movie plot actor scene story film director music camera ending cast".split()


def toy_reviews(n: int, seed: int) -> Dataset:
    """Reviews of filler words with one sentiment word somewhere in them, which decides the label (1 = positive)."""
    generator = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for _ in range(n):
        words = [FILLER[i] for i in torch.randint(len(FILLER), (int(torch.randint(4, 14, ())),), generator=generator)]
        label = int(torch.randint(2, (), generator=generator))
        words.insert(int(torch.randint(len(words) + 1, (), generator=generator)),
                     (POSITIVE if label else NEGATIVE)[int(torch.randint(4, (), generator=generator))])
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(label)
    return Dataset.from_dict({"text": texts, "label": labels})


def run_script(name: str, *args, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)], capture_output=True,
                            text=True, timeout=timeout, env=env, cwd=ROOT)
    assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "reviews.parquet"
    data = toy_reviews(1000, seed=0)
    # An empty review: the scripts drop it rather than fail on a row with no token.
    data = data.add_item({"text": "", "label": 1})
    data.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def trained_folder(toy_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "gru-toy"
    run_script(
        "train_sentiment.py", "--do_train", "--do_eval", "--train_file", toy_file, "--output_dir", folder,
        "--tokenizer_algorithm", "wordpiece", "--tokenizer_vocab_size", 200, "--max_length", 24,
        "--config_overrides", "embedding_dim=16,hidden_size=16,num_layers=1,bidirectional=true,pooling=mean_max,"
        "embedding_dropout=0.1", "--learning_rate", 1e-2, "--per_device_train_batch_size", 32,
        "--num_train_epochs", 6, "--eval_strategy", "epoch", "--save_strategy", "epoch", "--save_total_limit", 1,
        "--load_best_model_at_end", "--metric_for_best_model", "accuracy", "--early_stopping_patience", 1,
        "--report_to", "none", "--disable_tqdm", "true", "--seed", 0,
    )
    return folder


def test_tokenizer_cli_trains_a_tokenizer_that_auto_tokenizer_loads(toy_file, tmp_path):
    load_script("train_tokenizer.py").main(["--train_file", str(toy_file), "--output_dir", str(tmp_path),
                                            "--algorithm", "bpe", "--vocab_size", "300", "--lowercase",
                                            "--model_max_length", "16"])
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert tokenizer.convert_ids_to_tokens([0, 1]) == ["<pad>", "<unk>"]
    assert tokenizer.pad_token_id == 0 and tokenizer.model_max_length == 16
    # Byte-level BPE: lower-cased, spaces and punctuation come back, no unknown token even for an emoji.
    encoding = tokenizer("The movie was GREAT! 😊")
    assert tokenizer.unk_token_id not in encoding["input_ids"]
    assert tokenizer.decode(encoding["input_ids"]) == "the movie was great! 😊"
    assert len(tokenizer(" ".join(FILLER * 3), truncation=True)["input_ids"]) == 16


def test_training_script_reaches_high_accuracy_and_writes_a_hub_ready_folder(trained_folder):
    for name in ("model.safetensors", "config.json", "modeling_gru.py", "configuration_gru.py", "tokenizer.json",
                 "README.md", "validation_results.json"):
        assert (trained_folder / name).exists(), name
    config = json.loads((trained_folder / "config.json").read_text())
    # The entries remote code needs to load this folder as a classifier (others, such as the base model's, may follow).
    assert config["auto_map"]["AutoConfig"] == "configuration_gru.GRUConfig"
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "modeling_gru.GRUForSequenceClassification"
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    validation = json.loads((trained_folder / "validation_results.json").read_text())
    assert validation["validation_samples"] == 200  # 20% of the 1,000 non-empty reviews
    assert validation["validation_accuracy"] > 0.95, validation
    card = (trained_folder / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and "type: accuracy" in card
    assert f"{round(validation['validation_accuracy'], 4)}" in card
    state = json.loads((trained_folder / "trainer_state.json").read_text())
    assert state["best_metric"] == pytest.approx(validation["validation_accuracy"])


def test_pipeline_returns_label_names_handles_batches_and_truncates(trained_folder):
    classifier = pipeline("text-classification", model=str(trained_folder))
    # Reviews like the training ones (the trained tokenizer is not deterministic: words it never saw may be cut into
    # other pieces from run to run, and the toy model is judged on the words it learned).
    reviews = ["The film superb cast loved scene.", "The plot awful ending boring story."]
    predictions = classifier(reviews)
    assert [p["label"] for p in predictions] == ["POSITIVE", "NEGATIVE"]
    assert all(0.5 < p["score"] <= 1.0 for p in predictions)
    all_scores = classifier(reviews[0], top_k=None)
    assert {s["label"] for s in all_scores} == {"POSITIVE", "NEGATIVE"}
    assert sum(s["score"] for s in all_scores) == pytest.approx(1.0, abs=1e-5)
    # A batch gives what one review at a time gives: padding inside a batch changes nothing.
    batched = pipeline("text-classification", model=str(trained_folder), batch_size=2)(reviews + ["Great."])
    single = [classifier(review)[0] for review in reviews + ["Great."]]
    for b, s in zip(batched, single):
        assert b["label"] == s["label"] and b["score"] == pytest.approx(s["score"], abs=1e-5)
    # A review longer than max_length: `truncation=True` cuts it to the saved model_max_length (24 tokens, the
    # training length); without it the recurrent model, which has no length limit, reads it all.
    long_review = "Awful. " + "The movie plot scene story film music. " * 20 + "Loved it, great!"
    first_tokens = classifier.tokenizer(long_review, truncation=True, return_tensors="pt")
    assert first_tokens["input_ids"].shape == (1, 24)
    with torch.no_grad():
        expected = classifier.model(**first_tokens).logits.softmax(-1).max().item()
    assert classifier(long_review, truncation=True)[0]["score"] == pytest.approx(expected, abs=1e-6)
    assert classifier(long_review)[0]["score"] != pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="empty"):
        classifier("")
    with pytest.raises(ValueError, match="text input must be of type `str`"):
        classifier(42)


def test_evaluation_script_scores_the_held_out_part(trained_folder, toy_file, capsys):
    load_script("evaluate_sentiment.py").main(["--model", str(trained_folder), "--file", str(toy_file),
                                               "--validation_split_percentage", "20", "--json"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    validation = json.loads((trained_folder / "validation_results.json").read_text())
    assert scores["samples"] == 200
    assert scores["accuracy"] == pytest.approx(validation["validation_accuracy"])
    assert scores["f1"] == pytest.approx(validation["validation_f1"])


def test_evaluation_script_scores_in_bfloat16_and_int8_and_refuses_other_dtypes(trained_folder, toy_file, capsys):
    evaluate = load_script("evaluate_sentiment.py").main
    evaluate(["--model", str(trained_folder), "--file", str(toy_file), "--validation_split_percentage", "20", "--json",
              "--dtype", "bfloat16"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    validation = json.loads((trained_folder / "validation_results.json").read_text())
    assert scores["dtype"] == "bfloat16" and scores["samples"] == 200
    # bfloat16 rounds the scores, not the decisions of a confident model: at most one of 200 reviews may flip.
    assert abs(scores["accuracy"] - validation["validation_accuracy"]) <= 1 / 200
    # int8: the recurrent and linear layers quantized (rnnformers.quantization), the same decisions within one review.
    evaluate(["--model", str(trained_folder), "--file", str(toy_file), "--validation_split_percentage", "20", "--json",
              "--dtype", "int8"])
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["dtype"] == "int8" and scores["samples"] == 200
    assert abs(scores["accuracy"] - validation["validation_accuracy"]) <= 1 / 200
    with pytest.raises(ValueError, match="--dtype must be one of float32, bfloat16, int8, got 'float16'"):
        evaluate(["--model", str(trained_folder), "--file", str(toy_file), "--dtype", "float16"])


def test_remote_code_pipeline_from_a_hub_snapshot_without_rnnformers(trained_folder, tmp_path):
    make_hub_snapshot(trained_folder, tmp_path, "someone/gru-toy")
    result = run_python_without_rnnformers(
        """
        import json
        from transformers import pipeline
        classifier = pipeline("text-classification", model="someone/gru-toy", trust_remote_code=True)
        print(json.dumps(classifier(["Superb and wonderful.", "Terrible, I hated it."])))
        print(type(classifier.model).__module__)
        """,
        tmp_path,
    )
    predictions, module = result.stdout.strip().splitlines()[-2:]
    assert [p["label"] for p in json.loads(predictions)] == ["POSITIVE", "NEGATIVE"]
    assert module.startswith("transformers_modules.")  # the folder's own code, not rnnformers


def test_training_script_reuses_a_pretrained_tokenizer_and_its_embeddings(toy_file, tmp_path):
    # The chapter's route with bert-base-uncased, offline: a folder holding a (tiny, random) BERT and its tokenizer.
    pretrained = tmp_path / "tiny-bert"
    tokenizer = train_subword_tokenizer(toy_reviews(200, seed=3)["text"], algorithm="wordpiece", vocab_size=70)
    tokenizer.save_pretrained(pretrained)
    bert = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=12, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=24))
    bert.save_pretrained(pretrained)
    output = tmp_path / "gru-bert-embeddings"
    run_script(
        "train_sentiment.py", "--do_train", "--do_eval", "--train_file", toy_file, "--output_dir", output,
        "--pretrained_embeddings", pretrained, "--freeze_embeddings_epochs", 1, "--num_train_epochs", 1,
        "--max_train_samples", 128, "--max_eval_samples", 64, "--config_overrides", "hidden_size=8,num_layers=1",
        "--per_device_train_batch_size", 32, "--report_to", "none", "--disable_tqdm", "true",
    )
    config = json.loads((output / "config.json").read_text())
    assert (config["vocab_size"], config["embedding_dim"]) == (len(tokenizer), 12)  # taken from the BERT model
    assert AutoTokenizer.from_pretrained(output).get_vocab() == tokenizer.get_vocab()
    # Frozen for the one epoch trained: the saved embedding is still BERT's.
    torch.testing.assert_close(load_file(output / "model.safetensors")["embed_tokens.weight"],
                               bert.get_input_embeddings().weight.detach())
    assert "initialised from" in (output / "README.md").read_text()


def test_training_script_scores_a_saved_model_without_training(trained_folder, toy_file, tmp_path):
    run_script("train_sentiment.py", "--do_eval", "--model_name_or_path", trained_folder, "--train_file", toy_file,
               "--output_dir", tmp_path, "--max_length", 24, "--report_to", "none", "--disable_tqdm", "true")
    rescored = json.loads((tmp_path / "validation_results.json").read_text())
    original = json.loads((trained_folder / "validation_results.json").read_text())
    assert rescored["validation_accuracy"] == pytest.approx(original["validation_accuracy"])
    card = (tmp_path / "README.md").read_text()
    assert (tmp_path / "model.safetensors").exists() and "Not trained by this run" in card
    assert "learning rate" not in card and "epochs" not in card  # no hyperparameters that never ran
    assert "learning rate" in (trained_folder / "README.md").read_text()

    # Scored into its own folder without --max_length: at the length it was trained at (24, from its tokenizer), the
    # same figures; the folder's card and tokenizer are left as they were.
    own = tmp_path / "own"
    shutil.copytree(trained_folder, own)
    before = {name: (own / name).read_bytes() for name in ("README.md", "tokenizer.json", "tokenizer_config.json")}
    run_script("train_sentiment.py", "--do_eval", "--model_name_or_path", own, "--train_file", toy_file,
               "--output_dir", own, "--report_to", "none", "--disable_tqdm", "true")
    assert {name: (own / name).read_bytes() for name in before} == before
    assert AutoTokenizer.from_pretrained(own).model_max_length == 24
    scored = json.loads((own / "validation_results.json").read_text())
    assert scored["validation_samples"] == 200
    assert scored["validation_accuracy"] == pytest.approx(original["validation_accuracy"])
    # Another --max_length would truncate otherwise than training did: refused, naming both lengths.
    with pytest.raises(AssertionError, match=r"--max_length 10 differs .* model_max_length: 24"):
        run_script("train_sentiment.py", "--do_eval", "--model_name_or_path", own, "--train_file", toy_file,
                   "--output_dir", own, "--max_length", 10, "--report_to", "none", "--disable_tqdm", "true")


def test_tokenizer_building_flags_are_refused_with_a_saved_tokenizer():
    model_arguments = load_script("train_sentiment.py").ModelArguments
    assert model_arguments(tokenizer_vocab_size=300, lowercase=False).tokenizer_vocab_size == 300
    for building, loading in (({"lowercase": True}, {"model_name_or_path": "x"}),
                              ({"tokenizer_vocab_size": 300}, {"pretrained_embeddings": "bert"}),
                              ({"tokenizer_algorithm": "wordpiece"}, {"tokenizer_name": "tok"})):
        flag, source = next(iter(building)), next(iter(loading))
        with pytest.raises(ValueError, match=f"--{flag}: these shape a tokenizer .* --{source} gives a saved one"):
            model_arguments(**building, **loading)
    # The other training scripts' tokenizer-building flags, likewise (their defaults are None: not given).
    for script, flag, value in (("train_char_rnn.py", "lowercase", False), ("train_translation.py", "vocab_size", 400)):
        model_arguments = load_script(script).ModelArguments
        assert getattr(model_arguments(**{flag: value}), flag) == value and getattr(model_arguments(), flag) is None
        for source in ("tokenizer_name", "model_name_or_path"):
            with pytest.raises(ValueError, match=f"--{flag}: it shapes a tokenizer .* --{source} gives a saved one"):
                model_arguments(**{flag: value, source: "saved"})


def test_tokenizer_training_and_evaluation_scripts_see_the_same_split(toy_file, trained_folder, tmp_path, capsys):
    # The split of the file (empty review included) as the package decides it ...
    splits = load_sentiment_splits(str(toy_file))
    validation_texts = set(splits["validation"]["text"])
    # ... is the one train_sentiment.py validated on and evaluate_sentiment.py scores:
    assert json.loads((trained_folder / "validation_results.json").read_text())["validation_samples"] == len(
        validation_texts)
    load_script("evaluate_sentiment.py").main(["--model", str(trained_folder), "--file", str(toy_file),
                                               "--validation_split_percentage", "20", "--json"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["samples"] == len(validation_texts)
    # ... and train_tokenizer.py learns from its training part only: a word written into every validation review
    # (the split depends on the row positions alone) never becomes a token, one in every training review does.
    data = Dataset.from_parquet(str(toy_file))
    marked = [text + (" xylophonist" if text in validation_texts else " saxophonist" if text else "")
              for text in data["text"]]
    marked_file = tmp_path / "marked.parquet"
    data.remove_columns("text").add_column("text", marked).to_parquet(marked_file)
    assert len(load_sentiment_splits(str(marked_file))["validation"]) == len(validation_texts)
    load_script("train_tokenizer.py").main(["--train_file", str(marked_file), "--output_dir", str(tmp_path / "tok"),
                                            "--algorithm", "wordpiece", "--vocab_size", "400", "--min_frequency", "1",
                                            "--lowercase"])
    vocabulary = AutoTokenizer.from_pretrained(tmp_path / "tok").get_vocab()
    assert "saxophonist" in vocabulary and "xylophonist" not in vocabulary


def test_labels_are_checked_over_every_split_before_training(tmp_path):
    data = toy_reviews(100, seed=5)
    # A label of a class that --class_names does not name, in one validation review only.
    validation_texts = load_sentiment_splits_of(data, tmp_path)["validation"]["text"]
    target = next(text for text in validation_texts if data["text"].count(text) == 1)
    bad = [3 if text == target else label for text, label in zip(data["text"], data["label"])]
    path = tmp_path / "bad.parquet"
    data.remove_columns("label").add_column("label", bad).to_parquet(path)
    output_dir = tmp_path / "out"
    with pytest.raises(AssertionError, match=r"bad.parquet \(validation\): labels \[3\] are not class ids"):
        run_script("train_sentiment.py", "--do_train", "--do_eval", "--train_file", path, "--output_dir", output_dir,
                   "--tokenizer_vocab_size", 300, "--report_to", "none")
    assert not (output_dir / "train_results.json").exists() and not list(output_dir.glob("checkpoint-*"))


def test_evaluation_script_refuses_labels_the_model_does_not_know_and_missing_models(trained_folder, tmp_path):
    path = tmp_path / "three_classes.csv"
    path.write_text("text,label\nA superb film.,1\nAwful.,0\nMeh.,2\n")
    with pytest.raises(ValueError, match=r"three_classes.csv \(file\): labels \[2\] are not class ids of the 2"):
        load_script("evaluate_sentiment.py").main(["--model", str(trained_folder), "--file", str(path)])
    with pytest.raises(ValueError, match="--model '.*/no/such/model': no such folder"):
        load_script("evaluate_sentiment.py").main(["--model", str(tmp_path / "no" / "such" / "model"), "--file",
                                                   str(path)])


def load_sentiment_splits_of(data: Dataset, tmp_path) -> dict:
    path = tmp_path / "probe.parquet"
    data.to_parquet(path)
    return load_sentiment_splits(str(path))


def test_tokenizer_script_refuses_an_empty_file_or_empty_texts(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="--train_file '.*empty.txt' is empty"):
        load_script("train_tokenizer.py").main(["--train_file", str(empty), "--output_dir", str(tmp_path / "a")])
    blank = tmp_path / "blank.csv"
    blank.write_text('text\n""\n"   "\n')
    with pytest.raises(ValueError, match="holds no non-empty text in column 'text'"):
        load_script("train_tokenizer.py").main(["--train_file", str(blank), "--output_dir", str(tmp_path / "b")])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
