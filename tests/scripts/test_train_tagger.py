"""scripts/train_tagger.py end to end on a small generated CoNLL-U corpus: training with a CRF on BIO tags (accuracy
and seqeval entity F1, model card, predictions), scoring a saved model, the pipeline on the output folder, flag errors,
and two CPU processes under accelerate."""

import json
import os
import random
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer, TrainingArguments, pipeline

from rnnformers import RNNTaggerConfig  # (importing rnnformers registers "rnn_tagger" with the Auto classes)
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.lifecycle import parse_config_overrides

from conftest import ROOT, load_script


SCRIPT = ROOT / "scripts" / "train_tagger.py"
NAMES = [("John", "Smith"), ("Mary", "Jones"), ("Ann", "Lee"), ("Paul", "Brown")]
NOUNS, VERBS, ADVERBS = "dog cat bird horse fish".split(), "sees likes hears finds".split(), "today often".split()


def toy_conllu(n: int, seed: int) -> str:
    """Sentences `[Name Surname | the NOUN] VERB [Name Surname | the NOUN] (ADVERB) .`, with UPOS tags and BIO person
    tags in MISC (`NER=B-PER`), and a multiword token line in some of them (`don't` = `do` + `n't`)."""
    rng = random.Random(seed)
    blocks = []
    for index in range(n):
        words = []  # (form, upos, ner)
        for position in ("subject", "object"):
            if rng.random() < 0.5:
                first, last = rng.choice(NAMES)
                words += [(first, "PROPN", "B-PER"), (last, "PROPN", "I-PER")]
            else:
                words += [("the", "DET", "O"), (rng.choice(NOUNS), "NOUN", "O")]
            if position == "subject":
                if rng.random() < 0.3:
                    words += [("do", "AUX", "O"), ("n't", "PART", "O"), ("see", "VERB", "O")]
                else:
                    words.append((rng.choice(VERBS), "VERB", "O"))
        if rng.random() < 0.5:
            words.append((rng.choice(ADVERBS), "ADV", "O"))
        words.append((".", "PUNCT", "O"))
        lines = [f"# sent_id = toy-{seed}-{index}"]
        for i, (form, upos, ner) in enumerate(words, start=1):
            if form == "do":
                lines.append(f"{i}-{i + 1}\tdon't\t_\t_\t_\t_\t_\t_\t_\t_")
            lines.append(f"{i}\t{form}\t{form.lower()}\t{upos}\t_\t_\t0\tdep\t_\tNER={ner}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy_conllu")
    for name, n, seed in (("train", 300, 0), ("dev", 60, 1), ("test", 60, 2)):
        (folder / f"{name}.conllu").write_text(toy_conllu(n, seed), encoding="utf-8")
    return folder


def run_script(*args, launcher=(sys.executable,), check=True, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([*launcher, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=ROOT)
    if check:
        assert result.returncode == 0, f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result


COMMON = ("--num_train_epochs", 8, "--learning_rate", 1e-2, "--per_device_train_batch_size", 16,
          "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", 0)


@pytest.fixture(scope="module")
def trained_folder(toy_files, tmp_path_factory):
    output = tmp_path_factory.mktemp("tagger_output")
    run_script(
        "--do_train", "--do_eval", "--do_predict",
        "--train_file", toy_files / "train.conllu", "--validation_file", toy_files / "dev.conllu",
        "--test_file", toy_files / "test.conllu", "--label_column", "misc:NER",
        "--config_overrides", "embedding_dim=16,hidden_size=16,num_layers=1,use_crf=true,char_features=8,dropout=0.0,"
        "embedding_dropout=0.0", "--tokenizer_vocab_size", 60,
        "--output_dir", output, "--eval_strategy", "epoch", "--save_strategy", "no", *COMMON,
    )
    return output


def test_script_learns_bio_tags_and_writes_a_hub_ready_folder(trained_folder):
    results = json.loads((trained_folder / "all_results.json").read_text())
    assert results["validation_accuracy"] > 0.95 and results["validation_entity_f1"] > 0.9
    assert results["test_accuracy"] > 0.95 and results["test_entity_f1"] > 0.9
    config = json.loads((trained_folder / "config.json").read_text())
    assert config["use_crf"] is True and sorted(config["label2id"]) == ["B-PER", "I-PER", "O"]
    for name in ("model.safetensors", "modeling_rnn_tagger.py", "configuration_rnn_tagger.py", "tokenizer.json"):
        assert (trained_folder / name).is_file(), name
    card = (trained_folder / "README.md").read_text()
    assert "validation misc:NER entity f1" in card and f"{results['test_entity_f1']:.4f}" in card
    assert "Viterbi" in card and "token-classification" in card
    # predictions.tsv: every test word with its predicted and gold tag.
    blocks = (trained_folder / "predictions.tsv").read_text().strip().split("\n\n")
    assert len(blocks) == 60 and blocks[0].startswith("# sent_id = toy-2-0\n")
    word_lines = [line.split("\t") for block in blocks for line in block.splitlines()[1:]]
    assert all(len(fields) == 3 for fields in word_lines)
    assert sum(p == g for _, p, g in word_lines) / len(word_lines) == pytest.approx(results["test_accuracy"])


def test_pipeline_groups_a_person_name_from_the_output_folder(trained_folder):
    tagger = pipeline("token-classification", model=str(trained_folder), aggregation_strategy="first")
    groups = tagger("the dog sees Mary Jones today .")
    assert [(g["entity_group"], g["word"]) for g in groups] == [("PER", "Mary Jones")]


def test_script_scores_a_saved_model_without_training(trained_folder, toy_files, tmp_path):
    run_script("--do_eval", "--model_name_or_path", trained_folder, "--validation_file", toy_files / "dev.conllu",
               "--label_column", "misc:NER", "--output_dir", tmp_path / "eval", "--use_cpu", "--report_to", "none")
    metrics = json.loads((tmp_path / "eval" / "validation_results.json").read_text())
    trained = json.loads((trained_folder / "validation_results.json").read_text())
    assert metrics["validation_accuracy"] == pytest.approx(trained["validation_accuracy"])
    assert (tmp_path / "eval" / "README.md").is_file() and (tmp_path / "eval" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "training, message",
    [
        ({"do_eval": True}, "--do_eval needs --validation_file"),
        ({"do_train": True}, "--do_train needs --train_file"),
        ({"do_predict": True}, "--do_predict needs --test_file"),
    ],
)
def test_script_checks_that_each_step_has_its_file(training, message, tmp_path):
    script = load_script("train_tagger.py")
    with pytest.raises(ValueError, match=message):
        script.check_files(script.DataArguments(), script.TrainingArguments(output_dir=str(tmp_path), use_cpu=True,
                                                                           **training))


def test_script_refuses_label_smoothing_of_a_crf_tagger(tmp_path):
    script = load_script("train_tagger.py")
    smoothing = script.TrainingArguments(output_dir=str(tmp_path), use_cpu=True, label_smoothing_factor=0.1)
    with pytest.raises(ValueError, match="--label_smoothing_factor 0.1 with a CRF tagger"):
        script.check_label_smoothing(RNNTaggerConfig(use_crf=True), smoothing)
    script.check_label_smoothing(RNNTaggerConfig(use_crf=False), smoothing)  # a softmax tagger smooths its logits
    script.check_label_smoothing(RNNTaggerConfig(use_crf=True), script.TrainingArguments(output_dir=str(tmp_path),
                                                                                          use_cpu=True))


def test_script_config_overrides_of_the_tagger_config():
    script = load_script("train_tagger.py")
    with pytest.raises(ValueError, match="--config_overrides"):
        script.ModelArguments(model_name_or_path="some/model", config_overrides="use_crf=true")
    overrides = parse_config_overrides(RNNTaggerConfig, "hidden_size=64,use_crf=true,cell_type=gru,token_dropout=0.1")
    assert overrides == {"hidden_size": 64, "use_crf": True, "cell_type": "gru", "token_dropout": 0.1}
    with pytest.raises(ValueError, match="RNNTaggerConfig has no field 'hiden_size'"):
        parse_config_overrides(RNNTaggerConfig, "hiden_size=3")


@pytest.mark.slow
def test_script_runs_under_accelerate_with_two_processes(toy_files, tmp_path):
    pytest.importorskip("accelerate")
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    run_script("--do_train", "--do_eval", "--train_file", toy_files / "train.conllu", "--validation_file",
               toy_files / "dev.conllu", "--config_overrides", "embedding_dim=8,hidden_size=8,num_layers=1",
               "--output_dir", tmp_path, "--num_train_epochs", 1, "--use_cpu", "--report_to", "none",
               launcher=launcher)
    assert json.loads((tmp_path / "all_results.json").read_text())["validation_accuracy"] > 0


def test_script_starts_embeddings_from_word_vectors(toy_files, tmp_path):
    vectors = load_script("train_word_vectors.py").main([
        "--output_dir", str(tmp_path / "vectors"), "--extra_train_files", str(toy_files / "train.conllu"),
        "--vector_size", "16", "--min_count", "1", "--epochs", "1", "--workers", "1",
    ])
    output = tmp_path / "tagger"
    run_script("--do_train", "--train_file", toy_files / "train.conllu", "--word_vectors", tmp_path / "vectors",
               "--freeze_word_vectors", "--tokenizer_vocab_size", 40, "--learning_rate", 0.1, "--config_overrides", "embedding_dim=16,hidden_size=8,num_layers=1",
               "--output_dir", output, "--max_steps", 2, "--use_cpu", "--report_to", "none")
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert all(word in tokenizer.get_vocab() for word in vectors.index_to_key)  # every vector word is one token
    # Frozen: after training, each vector word's embedding is still its vector (rescaled, same direction).
    model = AutoModelForTokenClassification.from_pretrained(output)
    for word in vectors.index_to_key[:5]:
        row = model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids(word)].detach()
        cosine = torch.nn.functional.cosine_similarity(row, torch.from_numpy(vectors[word].copy()), dim=0)
        assert cosine.item() == pytest.approx(1.0, abs=1e-5), word
    card = (output / "README.md").read_text()
    assert "initialised from word vectors trained with `scripts/train_word_vectors.py` (word2vec, 16 dimensions" in card
    assert "and kept frozen" in card


@pytest.mark.parametrize("flags", [{"model_name_or_path": "some/model"}, {"tokenizer_name": "some/tokenizer"}])
def test_script_refuses_word_vectors_with_a_saved_model_or_tokenizer(flags):
    script = load_script("train_tagger.py")
    with pytest.raises(ValueError, match="--word_vectors builds a new model's vocabulary"):
        script.check_model_sources(script.ModelArguments(word_vectors="vectors", **flags))


@pytest.mark.parametrize("flags", [{"model_name_or_path": "some/model"}, {"word_vectors": "vectors"}])
def test_script_refuses_a_pretrained_backbone_with_another_start(flags):
    script = load_script("train_tagger.py")
    with pytest.raises(ValueError, match="--pretrained_backbone and --"):
        script.check_model_sources(script.ModelArguments(pretrained_backbone="lm", **flags))


def test_script_refuses_a_byte_level_tokenizer_for_words_given_split():
    # Split words through a byte-level BPE without add_prefix_space lose the space they carry in running text.
    script = load_script("train_tagger.py")
    texts = ["the dog sees Mary Jones today ."] * 20
    with pytest.raises(ValueError, match="byte-level BPE without add_prefix_space.*--tokenizer_algorithm wordpiece"):
        script.check_splits_words_as_text(train_subword_tokenizer(texts, vocab_size=60))
    script.check_splits_words_as_text(train_subword_tokenizer(texts, algorithm="wordpiece", vocab_size=60))


def test_script_tags_with_the_backbone_of_a_language_model(toy_files, tmp_path):
    # ELMo's / ULMFiT's route: a cased WordPiece biLM on the training sentences, then a tagger on its backbone.
    lm = tmp_path / "lm"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_gru_language_model.py"), "--do_train", "--output_dir", str(lm),
         "--extra_train_files", str(toy_files / "train.conllu"), "--tokenizer_algorithm", "wordpiece",
         "--lowercase", "false", "--tokenizer_vocab_size", "80", "--block_size", "16",
         "--config_overrides", "bidirectional=true,separate_directions=true,hidden_size=16,embedding_dim=16,dropout=0.0",
         "--max_steps", "30", "--learning_rate", "1e-2", "--per_device_train_batch_size", "16", "--use_cpu",
         "--report_to", "none", "--disable_tqdm", "true"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Mary" in AutoTokenizer.from_pretrained(lm).convert_ids_to_tokens(
        AutoTokenizer.from_pretrained(lm)(["Mary", "Jones"], is_split_into_words=True)["input_ids"])
    output = tmp_path / "tagger"
    run_script("--do_train", "--do_eval", "--train_file", toy_files / "train.conllu",
               "--validation_file", toy_files / "dev.conllu", "--pretrained_backbone", lm,
               "--config_overrides", "dropout=0.0", "--output_dir", output, *COMMON)
    results = json.loads((output / "all_results.json").read_text())
    assert results["validation_accuracy"] > 0.95
    config = json.loads((output / "config.json").read_text())
    assert config["architectures"] == ["GRUForTokenClassification"] and len(config["id2label"]) == 8
    assert AutoTokenizer.from_pretrained(output).get_vocab() == AutoTokenizer.from_pretrained(lm).get_vocab()
    card = (output / "README.md").read_text()
    assert "pretrained as a forward and a backward language model" in card and "validation upos accuracy" in card
    tagger = pipeline("token-classification", model=str(output), aggregation_strategy="none")
    assert tagger("the dog sees Mary Jones .")[0]["entity"] == "DET"
    # The backbone's shape is the language model's: --config_overrides may not change it.
    refused = run_script("--do_train", "--train_file", toy_files / "train.conllu", "--pretrained_backbone", lm,
                         "--config_overrides", "hidden_size=8", "--output_dir", tmp_path / "refused", *COMMON,
                         check=False)
    assert refused.returncode != 0 and "differs from the pretrained backbone's hidden_size=16" in refused.stderr
    # Nor may it set what the run decides (the labels) or initial values the backbone's weights replace.
    script = load_script("train_tagger.py")
    for overrides in ("num_labels=3", "lstm_forget_bias=1.0"):
        with pytest.raises(ValueError, match="cannot set .* on a pretrained backbone"):
            script.load_head_on_backbone(AutoModelForTokenClassification, script.GRUConfig, script.ModelArguments(
                pretrained_backbone=str(lm), config_overrides=overrides), AutoTokenizer.from_pretrained(lm),
                num_labels=8)


def test_script_adds_contextual_features_of_two_character_language_models(toy_files, tmp_path):
    # Flair's route: a forward and a backward char-RNN on the training sentences, then a tagger reading their states.
    char_script = ROOT / "scripts" / "train_char_rnn.py"
    for direction in ("forward", "backward"):
        result = subprocess.run(
            [sys.executable, str(char_script), "--do_train", "--output_dir", str(tmp_path / direction),
             "--train_file", str(toy_files / "train.conllu"), "--window_length", "40", "--stride", "40",
             "--config_overrides", f"hidden_size=8,cell_type=lstm,reads_backward={direction == 'backward'}",
             "--max_steps", "3", "--use_cpu", "--report_to", "none", "--disable_tqdm", "true"],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")},
        )
        assert result.returncode == 0, result.stderr[-4000:]
    output = tmp_path / "tagger"
    run_script("--do_train", "--do_eval", "--train_file", toy_files / "train.conllu",
               "--validation_file", toy_files / "dev.conllu", "--char_language_models", tmp_path / "forward",
               tmp_path / "backward", "--tokenizer_vocab_size", 60, "--config_overrides", "hidden_size=8,num_layers=1",
               "--output_dir", output, "--max_steps", 3, "--use_cpu", "--report_to", "none")
    model = AutoModelForTokenClassification.from_pretrained(output)
    assert model.config.char_lm_hidden_size == 8 and model.config.char_lm_num_layers == 2
    tokenizer, char_tokenizer = AutoTokenizer.from_pretrained(output), AutoTokenizer.from_pretrained(tmp_path / "forward")
    buffer = model.base_model.contextual_chars.token_lm_chars
    the = buffer[tokenizer.convert_tokens_to_ids("the")]
    assert the[the != 0].tolist() == char_tokenizer(" the", add_special_tokens=False)["input_ids"]
    assert buffer[tokenizer.pad_token_id].sum() == 0  # special tokens have no text; the unknown word is a space
    assert buffer[tokenizer.unk_token_id].tolist()[:2] == [char_tokenizer.convert_tokens_to_ids(" "), 0]
    # The language models' weights are the char-RNNs' (frozen through training).
    forward = AutoModelForCausalLM.from_pretrained(tmp_path / "forward")
    torch.testing.assert_close(model.base_model.contextual_chars.forward_lm.rnn.weight_hh_l1,
                               forward.base_model.rnn.weight_hh_l1)
    assert "contextual string features" in (output / "README.md").read_text()
    # Forward and backward swapped: refused, naming the flag.
    result = run_script("--do_train", "--train_file", toy_files / "train.conllu", "--char_language_models",
                        tmp_path / "backward", tmp_path / "forward", "--output_dir", tmp_path / "swapped",
                        "--max_steps", 1, "--use_cpu", "--report_to", "none", check=False)
    assert result.returncode != 0 and "--char_language_models" in result.stderr and "must not read backwards" in result.stderr


def test_token_texts_rebuild_words_from_word_pieces_and_refuse_other_tokenizers():
    from rnnformers.training.token_classification import token_texts

    texts = ["the dog sees Mary Jones today .", "unbelievably sesquipedalian"] * 20
    word_piece = train_subword_tokenizer(texts, algorithm="wordpiece", vocab_size=60)
    by_id = token_texts(word_piece)
    pieces = word_piece(["sesquipedalian"], is_split_into_words=True)["input_ids"]
    assert "".join(by_id[i] for i in pieces) == " sesquipedalian" and len(pieces) > 1
    assert by_id[word_piece.pad_token_id] == "" and by_id[word_piece.unk_token_id] == " "
    with pytest.raises(ValueError, match="contextual string features rebuild a sentence from WordPiece"):
        token_texts(train_subword_tokenizer(texts, vocab_size=60))  # a byte-level BPE ("Ġword")


def test_script_refuses_char_language_models_other_than_two_new_ones():
    script = load_script("train_tagger.py")
    with pytest.raises(ValueError, match="takes two folders"):
        script.check_model_sources(script.ModelArguments(char_language_models=["forward"]))
    with pytest.raises(ValueError, match="--model_name_or_path loads a model"):
        script.check_model_sources(script.ModelArguments(char_language_models=["f", "b"], model_name_or_path="m"))
