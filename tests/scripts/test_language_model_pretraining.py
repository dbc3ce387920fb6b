"""The ULMFiT route end to end on toy reviews: scripts/train_gru_language_model.py pretrains a forward and a backward
LM on the classifier's training part + unlabelled texts (never the validation part), then train_sentiment.py
--pretrained_backbone fine-tunes a classifier on it with gradual unfreezing and discriminative learning rates; the
data split, the optimizer groups, and the bad inputs (empty texts, another shape, another tokenizer)."""

import json
import sys

import pytest
import torch
from datasets import Dataset
from transformers import AutoTokenizer, TrainingArguments

from rnnformers import GRUConfig, GRUForCausalLM, GRUForSequenceClassification
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.callbacks import GradualUnfreezingCallback, discriminative_optimizer, top_down_layer_groups
from rnnformers.training.data import load_language_model_texts, load_sentiment_splits

from test_sentiment_scripts import load_script, run_script, toy_reviews


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_corpus")
    toy_reviews(300, seed=0).to_parquet(folder / "train.parquet")
    unlabelled = toy_reviews(400, seed=1).remove_columns("label")
    texts = unlabelled["text"][:390] + ["", "   "] + unlabelled["text"][390:]  # empty rows are dropped
    Dataset.from_dict({"text": texts}).to_parquet(folder / "unsup.parquet")
    return folder


def test_lm_texts_hold_the_training_part_and_unlabelled_texts_never_a_validation_review(corpus):
    texts = load_language_model_texts(str(corpus / "train.parquet"),
                                      extra_train_files=[str(corpus / "unsup.parquet")], held_out_percentage=5)
    classifier = load_sentiment_splits(str(corpus / "train.parquet"), label_column=None)
    assert len(texts["validation"]) == 20 and len(texts["train"]) == 380 + 240
    train = set(texts["train"]["text"])
    assert set(classifier["train"]["text"]) <= train
    validation_only = set(classifier["validation"]["text"]) - set(classifier["train"]["text"])
    assert validation_only and not validation_only & train
    assert "" not in train and not set(texts["validation"]["text"]) & set(texts["train"]["text"][:380])
    with pytest.raises(ValueError, match="--held_out_percentage must be in"):
        load_language_model_texts(str(corpus / "train.parquet"), held_out_percentage=0)


@pytest.fixture(scope="module")
def lm_folder(corpus, tmp_path_factory):
    output = tmp_path_factory.mktemp("gru_lm")
    run_script(
        "train_gru_language_model.py", "--do_train", "--do_eval", "--output_dir", output,
        "--train_file", corpus / "train.parquet", "--extra_train_files", corpus / "unsup.parquet",
        "--held_out_percentage", 5, "--tokenizer_vocab_size", 120, "--block_size", 16,
        "--config_overrides", "bidirectional=true,separate_directions=true,hidden_size=16,embedding_dim=8,dropout=0.0",
        "--num_train_epochs", 3, "--learning_rate", 1e-2, "--per_device_train_batch_size", 16, "--use_cpu",
        "--report_to", "none", "--disable_tqdm", "true",
    )
    return output


def test_lm_script_learns_both_directions_and_writes_a_card(lm_folder):
    results = json.loads((lm_folder / "all_results.json").read_text())
    # Far below the uniform guess over 120 tokens: both language models learned the toy reviews.
    assert results["validation_forward_perplexity"] < 30 and results["validation_backward_perplexity"] < 30
    assert results["validation_perplexity"] == pytest.approx(
        (results["validation_forward_perplexity"] * results["validation_backward_perplexity"]) ** 0.5, rel=0.02)
    config = json.loads((lm_folder / "config.json").read_text())
    assert config["architectures"] == ["GRUForCausalLM"] and config["separate_directions"] is True
    tokenizer = AutoTokenizer.from_pretrained(lm_folder)
    ids = tokenizer("great movie")["input_ids"]
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == ["<s>", "</s>"]  # as the classifier will read
    card = (lm_folder / "README.md").read_text()
    assert "forward LM perplexity" in card and "only the 80% training part a classifier trains on" in card


def test_classifier_fine_tunes_the_pretrained_backbone_gradually(lm_folder, corpus, tmp_path):
    output = tmp_path / "classifier"
    # One epoch with one group unfrozen per epoch: only the new head trains, the backbone stays the LM's.
    run_script(
        "train_sentiment.py", "--do_train", "--do_eval", "--train_file", corpus / "train.parquet",
        "--pretrained_backbone", lm_folder, "--config_overrides", "pooling=mean_max",
        "--gradual_unfreezing_epochs", 1, "--layer_learning_rate_decay", 2.6, "--num_train_epochs", 1,
        "--learning_rate", 1e-2, "--output_dir", output, "--use_cpu", "--report_to", "none",
    )
    lm_backbone = GRUForCausalLM.from_pretrained(lm_folder).gru.state_dict()
    backbone = GRUForSequenceClassification.from_pretrained(output).gru.state_dict()
    assert lm_backbone.keys() == backbone.keys()
    assert all(torch.equal(backbone[name], value) for name, value in lm_backbone.items())
    config = json.loads((output / "config.json").read_text())
    assert config["architectures"] == ["GRUForSequenceClassification"] and config["pooling"] == "mean_max"
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert AutoTokenizer.from_pretrained(output).get_vocab() == AutoTokenizer.from_pretrained(lm_folder).get_vocab()
    assert "pretrained as a language model" in (output / "README.md").read_text()


def test_ulmfit_head_on_the_backbone_trains_even_when_an_epoch_ends_on_a_batch_of_one(lm_folder, corpus, tmp_path):
    output = tmp_path / "classifier"
    # 240 training reviews in batches of 239: the last batch of each epoch holds one review, which batch norm
    # standardises with its running statistics.
    run_script(
        "train_sentiment.py", "--do_train", "--train_file", corpus / "train.parquet", "--pretrained_backbone",
        lm_folder, "--config_overrides", "pooling=mean_max,classifier_batch_norm=true,classifier_hidden_size=4",
        "--per_device_train_batch_size", 239, "--num_train_epochs", 2, "--learning_rate", 1e-2,
        "--output_dir", output, "--use_cpu", "--report_to", "none",
    )
    model = GRUForSequenceClassification.from_pretrained(output)
    assert model.config.classifier_batch_norm and model.pre_classifier.out_features == 4
    assert model.pooled_norm.num_batches_tracked == 2  # one full batch per epoch; the batch of one left them alone


def test_classifier_refuses_another_shape_or_another_tokenizer(lm_folder, corpus, tmp_path):
    script = load_script("train_sentiment.py")
    common = ["--do_train", "--train_file", str(corpus / "train.parquet"), "--pretrained_backbone", str(lm_folder),
              "--use_cpu", "--report_to", "none"]
    with pytest.raises(ValueError, match="hidden_size=32 differs from the pretrained backbone's hidden_size=16"):
        run_main(script, [*common, "--output_dir", str(tmp_path / "a"), "--config_overrides", "hidden_size=32"])
    other = train_subword_tokenizer(toy_reviews(50, seed=3)["text"], vocab_size=100)
    other.save_pretrained(tmp_path / "other_tokenizer")
    with pytest.raises(ValueError, match="differs from the one saved with --pretrained_backbone"):
        run_main(script, [*common, "--output_dir", str(tmp_path / "b"), "--tokenizer_name",
                          str(tmp_path / "other_tokenizer")])
    with pytest.raises(ValueError, match="--model_name_or_path and --pretrained_backbone: a run starts from one"):
        script.ModelArguments(model_name_or_path="x", pretrained_backbone="y")


def run_main(script, argv):
    """A script's `main()` in this process, with `argv` as its command line."""
    saved = sys.argv
    sys.argv = ["train_sentiment.py", *argv]
    try:
        script.main()
    finally:
        sys.argv = saved


def test_lm_script_names_a_block_size_the_texts_cannot_fill(corpus, tmp_path):
    script = load_script("train_gru_language_model.py")
    with pytest.raises(ValueError, match="--block_size must be at least 2"):
        script.DataArguments(block_size=1)
    argv = ["--do_train", "--train_file", str(corpus / "train.parquet"), "--block_size", "100000",
            "--output_dir", str(tmp_path), "--use_cpu", "--report_to", "none"]
    with pytest.raises(ValueError, match="fewer than --block_size 100000 tokens"):
        run_main(script, argv)


def classifier(num_layers=2):
    torch.manual_seed(0)
    config = GRUConfig(vocab_size=20, embedding_dim=4, hidden_size=3, num_layers=num_layers, bidirectional=True,
                       separate_directions=True)
    return GRUForSequenceClassification(config)


def test_layer_groups_go_from_the_head_down_to_the_embeddings():
    model = classifier(num_layers=2)
    groups = top_down_layer_groups(model)
    names = {id(p): name for name, p in model.named_parameters()}
    assert [sorted({names[id(p)].split(".weight")[0].split(".bias")[0] for p in group}) for group in groups] == [
        ["classifier"],
        ["gru.rnn.layers.1.0", "gru.rnn.layers.1.1"],
        ["gru.rnn.layers.0.0", "gru.rnn.layers.0.1"],
        ["gru.embed_tokens"],
    ]
    assert sum(len(group) for group in groups) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="no head over a recurrent base model"):
        top_down_layer_groups(model.gru)


def test_discriminative_optimizer_divides_the_rate_per_layer_and_spares_biases(tmp_path):
    model = classifier()
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-2, weight_decay=0.1, use_cpu=True)
    optimizer = discriminative_optimizer(model, args, decay=2.0)
    rates = sorted({group["lr"] for group in optimizer.param_groups}, reverse=True)
    assert rates == pytest.approx([1e-2, 5e-3, 2.5e-3, 1.25e-3])
    for group in optimizer.param_groups:
        assert group["weight_decay"] == (0.1 if all(p.ndim >= 2 for p in group["params"]) else 0.0)
    with pytest.raises(ValueError, match="must be >= 1"):
        discriminative_optimizer(model, args, decay=0.5)


def test_gradual_unfreezing_adds_one_group_per_period():
    model = classifier()
    callback = GradualUnfreezingCallback(epochs_per_group=0.5)
    for epoch, trainable in ((0.0, 1), (0.49, 1), (0.5, 2), (1.2, 3), (1.5, 4), (9.0, 4)):
        callback.on_step_begin(None, type("State", (), {"epoch": epoch})(), None, model=model)
        flags = [all(p.requires_grad for p in group) for group in top_down_layer_groups(model)]
        assert flags == [depth < trainable for depth in range(4)], epoch
    callback.on_train_end(None, None, None, model=model)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="epochs_per_group must be > 0"):
        GradualUnfreezingCallback(0)


def test_a_unidirectional_backbone_also_loads_under_a_classifier(tmp_path):
    torch.manual_seed(0)
    lm = GRUForCausalLM(GRUConfig(vocab_size=20, embedding_dim=4, hidden_size=3, num_layers=2))
    lm.save_pretrained(tmp_path)
    model = GRUForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    torch.testing.assert_close(model.gru.embed_tokens.weight, lm.gru.embed_tokens.weight)
    assert model.classifier.out_features == 3


def test_classifier_embeddings_start_from_word_vectors_of_its_tokens(lm_folder, corpus, tmp_path):
    vectors = load_script("train_word_vectors.py").main([
        "--output_dir", str(tmp_path / "vectors"), "--train_file", str(corpus / "train.parquet"),
        "--extra_train_files", str(corpus / "unsup.parquet"), "--tokenizer_name", str(lm_folder),
        "--vector_size", "8", "--min_count", "1", "--epochs", "1", "--workers", "1",
    ])
    output = tmp_path / "classifier"
    run_script(
        "train_sentiment.py", "--do_train", "--train_file", corpus / "train.parquet", "--word_vectors",
        tmp_path / "vectors", "--tokenizer_name", lm_folder, "--freeze_embeddings_epochs", 1, "--num_train_epochs", 1,
        "--output_dir", output, "--use_cpu", "--report_to", "none",
    )
    model = GRUForSequenceClassification.from_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert model.config.embedding_dim == 8
    for token in vectors.index_to_key[:5]:  # the most frequent tokens of the corpus
        row = model.gru.embed_tokens.weight[tokenizer.convert_tokens_to_ids(token)].detach()
        cosine = torch.nn.functional.cosine_similarity(row, torch.from_numpy(vectors[token].copy()), dim=0)
        assert cosine.item() == pytest.approx(1.0, abs=1e-5), token  # frozen for the one epoch: the vector itself
    card = (output / "README.md").read_text()
    # The card says how the vectors were made, by file names only (no local path), and counts the epochs right.
    assert "word vectors trained here with `scripts/train_word_vectors.py` (word2vec, 8 dimensions" in card
    assert "and frozen for 1 epoch," in card and str(tmp_path) not in card
    with pytest.raises(ValueError, match="--word_vectors needs --tokenizer_name"):
        load_script("train_sentiment.py").ModelArguments(word_vectors="x")
