"""The "rnn-translation" pipeline, the translate / plot_attention / ensemble_translators scripts, the training script
on a few pairs, and loading a saved translator or ensemble from a Hub-cache snapshot with rnnformers blocked (model
and pipeline as remote code)."""

import copy
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, EvalPrediction, pipeline

from rnnformers import (
    RnnTranslationPipeline,
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionEnsemble,
)
from rnnformers.metrics import load_metric
from rnnformers.quantization import is_quantized_int8, quantize_dynamic_int8
from rnnformers.tokenization import train_subword_tokenizer
from rnnformers.training.data import load_pairs, split_by_source
from rnnformers.training.translation import (
    PairTokenizer,
    TranslationScorer,
    attention_matrix,
    distilled_training_part,
)

from conftest import ROOT, SHARED_DATA, load_script, make_hub_snapshot, run_python_without_rnnformers


SPA_ENG = SHARED_DATA / "spa-eng" / "spa-eng.tsv"


@pytest.fixture(scope="module")
def translator(tmp_path_factory):
    """An untrained small model with a BPE tokenizer trained on 2,000 English/Spanish pairs, saved through the
    pipeline (so the folder carries the model code, the pipeline code and `custom_pipelines`)."""
    if not SPA_ENG.exists():
        pytest.fail(f"bundled pairs missing: {SPA_ENG}")
    lines = SPA_ENG.read_text(encoding="utf-8").splitlines()[:2000]
    tokenizer = train_subword_tokenizer(
        (text for line in lines for text in line.split("\t")), vocab_size=500, add_bos_eos=True, model_max_length=12
    )
    torch.manual_seed(0)
    config = Seq2SeqGRUAttentionConfig(
        vocab_size=len(tokenizer), embedding_dim=16, hidden_size=16, num_layers=1, attention_type="concat",
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, unk_token_id=tokenizer.unk_token_id,
    )
    model = Seq2SeqGRUAttention(config).eval()
    model.generation_config.max_new_tokens = 10
    pipe = pipeline("rnn-translation", model=model, tokenizer=tokenizer)
    folder = tmp_path_factory.mktemp("translator")
    pipe.save_pretrained(folder)
    return folder, model, tokenizer


def generate_text(model, tokenizer, text, **kwargs):
    inputs = tokenizer(text, return_tensors="pt")
    return tokenizer.decode(model.generate(**inputs, **kwargs)[0], skip_special_tokens=True).strip()


def test_pipeline_task_is_registered_and_passes_generation_kwargs(translator):
    _, model, tokenizer = translator
    pipe = pipeline("rnn-translation", model=model, tokenizer=tokenizer)
    assert isinstance(pipe, RnnTranslationPipeline)
    out = pipe("I like soccer.", num_beams=3)
    assert out == [{"translation_text": generate_text(model, tokenizer, "I like soccer.", num_beams=3)}]
    torch.manual_seed(7)
    sampled = pipe("I like soccer.", do_sample=True, top_k=0)
    torch.manual_seed(7)
    assert sampled[0]["translation_text"] == generate_text(model, tokenizer, "I like soccer.", do_sample=True, top_k=0)
    two = pipe("I like soccer.", num_beams=3, num_return_sequences=2)
    assert len(two) == 2 and two[0] == out[0]
    batch = pipe(["I like soccer.", "Go."], num_beams=3)
    assert batch[0] == out and len(batch[1]) == 1


def test_pipeline_loads_a_saved_folder_by_name(translator):
    folder, model, tokenizer = translator
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"]["rnn-translation"]["impl"] == "translation.RnnTranslationPipeline"
    assert (folder / "translation.py").is_file() and (folder / "tokenizer.json").is_file()
    expected = [{"translation_text": generate_text(model, tokenizer, "Go.", max_new_tokens=10)}]
    # The folder names its own pipeline code, so transformers asks to trust it, even with rnnformers imported ...
    with pytest.raises(ValueError, match="trust_remote_code"):
        pipeline("rnn-translation", model=str(folder))
    assert pipeline("rnn-translation", model=str(folder), trust_remote_code=True)("Go.") == expected
    # ... or to be told which class to use: the installed one.
    assert pipeline("rnn-translation", model=str(folder), pipeline_class=RnnTranslationPipeline)("Go.") == expected


def test_pipeline_bad_inputs(translator):
    _, model, tokenizer = translator
    pipe = pipeline("rnn-translation", model=model, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="empty"):
        pipe("   ")
    with pytest.raises(ValueError, match="num_beams"):
        pipe("Go.", num_beams=0)
    with pytest.raises(ValueError, match="strings"):
        pipe(3)
    # Longer than the tokenizer's model_max_length (12): cut with a warning, keeping </s>.
    long_text = "I like to play soccer with my friends at the beach every single day."
    with pytest.warns(UserWarning, match="cut"):
        cut = pipe(long_text)
    assert cut == pipe(long_text, max_source_length=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipe(long_text, max_source_length=64)  # a longer limit keeps the whole source, silently
    # A long source is cut by the tokenizer itself, which keeps its <s> … </s>.
    with pytest.warns(UserWarning, match="cut"):
        ends = pipe.preprocess(long_text)["input_ids"][0, [0, -1]].tolist()
    assert ends == [tokenizer.bos_token_id, tokenizer.eos_token_id]


def test_pipeline_encodes_sources_as_the_tokenizer_says(translator):
    # A model trained on sources that are not wrapped in <s> … </s> translates with its own tokenizer.
    _, model, _ = translator
    no_specials = train_subword_tokenizer(["I like soccer. Me gusta el fútbol."] * 3, vocab_size=300,
                                          model_max_length=5)
    pipe = pipeline("rnn-translation", model=model, tokenizer=no_specials)
    ids = no_specials("Go.")["input_ids"]
    assert pipe.preprocess("Go.")["input_ids"][0].tolist() == ids
    expected = no_specials.decode(model.generate(torch.tensor([ids]))[0], skip_special_tokens=True).strip()
    assert pipe("Go.") == [{"translation_text": expected}]
    with pytest.warns(UserWarning, match="cut"):  # the length warning holds for any tokenizer
        assert pipe.preprocess("I like soccer, I like soccer.")["input_ids"].shape == (1, 5)


def test_pair_tokenizer_cuts_at_the_limits_keeping_special_tokens_and_says_which(translator):
    _, _, tokenizer = translator
    batch = {"source": ["Go.", "I like to play soccer with my friends every day."],
             "target": ["Vete.", "Me gusta jugar al fútbol con mis amigos todos los días."]}
    features = PairTokenizer(tokenizer, max_source_length=6, max_target_length=5)(batch)
    assert features["source_cut"] == [False, True] and features["target_cut"] == [False, True]
    assert features["input_ids"][0] == tokenizer("Go.")["input_ids"]
    long_source = features["input_ids"][1]
    assert len(long_source) == 6 and (long_source[0], long_source[-1]) == (tokenizer.bos_token_id,
                                                                          tokenizer.eos_token_id)
    eos = tokenizer.eos_token_id
    assert features["labels"][0] == tokenizer("Vete.", add_special_tokens=False)["input_ids"] + [eos]
    assert len(features["labels"][1]) == 5 and features["labels"][1][-1] == eos


def test_translate_and_plot_attention_scripts(translator, tmp_path, capsys):
    folder, model, tokenizer = translator
    load_script("translate.py").main([str(folder), "I like soccer.", "Go.", "--num_beams", "3"])
    assert capsys.readouterr().out.splitlines() == [
        generate_text(model, tokenizer, text, num_beams=3, max_new_tokens=10) for text in ("I like soccer.", "Go.")
    ]
    load_script("translate.py").main([str(folder), "I like soccer.", "--dtype", "bfloat16"])
    in_bfloat16 = copy.deepcopy(model).to(torch.bfloat16)
    assert capsys.readouterr().out.splitlines() == [generate_text(in_bfloat16, tokenizer, "I like soccer.",
                                                                  max_new_tokens=10)]
    assert load_script("translate.py").load_translator(str(folder), dtype="bfloat16").model.dtype == torch.bfloat16
    # int8: the pipeline's model quantized, translating as the int8 model itself does
    load_script("translate.py").main([str(folder), "I like soccer.", "--dtype", "int8", "--num_beams", "3"])
    assert capsys.readouterr().out.splitlines() == [generate_text(quantize_dynamic_int8(model), tokenizer,
                                                                  "I like soccer.", num_beams=3, max_new_tokens=10)]
    assert is_quantized_int8(load_script("translate.py").load_translator(str(folder), dtype="int8").model)
    png = tmp_path / "attention.png"
    plot_attention = load_script("plot_attention.py")
    plot_attention.main([str(folder), "I like soccer.", "--target", "Me gusta el fútbol.", "--output", str(png)])
    source_tokens, target_tokens, weights = attention_matrix(
        model, tokenizer, "I like soccer.", "Me gusta el fútbol.", num_beams=1
    )
    assert "".join(source_tokens) == "<s>I like soccer.</s>" and "".join(target_tokens) == "Me gusta el fútbol.</s>"
    assert weights.shape == (len(target_tokens), len(source_tokens))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_remote_code_model_and_pipeline_from_a_hub_snapshot_without_rnnformers(translator, tmp_path):
    folder, model, tokenizer = translator
    make_hub_snapshot(folder, tmp_path, "someone/gru-nmt")
    expected_beam = generate_text(model, tokenizer, "I like soccer.", num_beams=3, max_new_tokens=10)
    code = f"""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, pipeline
    model = AutoModelForSeq2SeqLM.from_pretrained("someone/gru-nmt", trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    tokenizer = AutoTokenizer.from_pretrained("someone/gru-nmt", trust_remote_code=True)
    inputs = tokenizer("I like soccer.", return_tensors="pt")
    ids = model.generate(**inputs, num_beams=3, max_new_tokens=10)
    assert tokenizer.decode(ids[0], skip_special_tokens=True).strip() == {expected_beam!r}
    translator = pipeline("rnn-translation", model="someone/gru-nmt", trust_remote_code=True)
    assert translator("I like soccer.", num_beams=3) == [{{"translation_text": {expected_beam!r}}}]
    print("ok")
    """
    assert run_python_without_rnnformers(code, tmp_path).stdout.strip().endswith("ok")




@pytest.fixture(scope="module")
def ensemble_folder(translator, tmp_path_factory):
    """`scripts/ensemble_translators.py` on the translator and a second one of another shape with its tokenizer."""
    folder, model, tokenizer = translator
    torch.manual_seed(1)
    config = Seq2SeqGRUAttentionConfig(**{**model.config.to_diff_dict(), "hidden_size": 12, "num_layers": 2,
                                          "attention_type": "dot", "bidirectional_encoder": True})
    second = Seq2SeqGRUAttention(config).eval()
    second_folder = tmp_path_factory.mktemp("second-translator")
    pipeline("rnn-translation", model=second, tokenizer=tokenizer).save_pretrained(second_folder)
    output = tmp_path_factory.mktemp("ensemble") / "nmt-ensemble"
    load_script("ensemble_translators.py").main([str(folder), str(second_folder), "--output_dir", str(output)])
    return output, Seq2SeqGRUAttentionEnsemble.from_members([model, second]), tokenizer


def test_ensemble_script_saves_a_model_that_auto_classes_and_the_pipeline_load(ensemble_folder):
    output, ensemble, tokenizer = ensemble_folder
    loaded = AutoModelForSeq2SeqLM.from_pretrained(output).eval()
    assert isinstance(loaded, Seq2SeqGRUAttentionEnsemble) and loaded.config.num_members == 2
    assert loaded.generation_config.max_new_tokens == 10  # the first member's
    expected = generate_text(ensemble, tokenizer, "I like soccer.", num_beams=3, max_new_tokens=10)
    assert generate_text(loaded, AutoTokenizer.from_pretrained(output), "I like soccer.", num_beams=3) == expected
    translator = pipeline("rnn-translation", model=str(output), pipeline_class=RnnTranslationPipeline)
    assert translator("I like soccer.", num_beams=3) == [{"translation_text": expected}]
    assert "An ensemble of 2 GRU encoder–decoders" in (output / "README.md").read_text()


def test_ensemble_script_refuses_other_tokenizers_single_models_and_its_own_members(translator, tmp_path, capsys):
    folder, model, _ = translator
    other = tmp_path / "other-tokenizer"
    other_tokenizer = train_subword_tokenizer(["I like soccer. Me gusta el fútbol."] * 3, vocab_size=300,
                                              add_bos_eos=True)
    pipeline("rnn-translation", model=model, tokenizer=other_tokenizer).save_pretrained(other)
    other_tokenizer_only = tmp_path / "tokenizer-only"
    AutoTokenizer.from_pretrained(folder).save_pretrained(other_tokenizer_only)
    script = load_script("ensemble_translators.py")
    for argv, message in (
        ([str(folder), str(other)], "other-tokenizer/tokenizer.json is not the tokenizer of"),
        ([str(folder)], "an ensemble needs at least two models, got 1"),
        ([str(folder), str(folder)], "the same folder is given twice"),
        ([str(folder), str(other), "--output_dir", str(folder / "ensemble")], "lies inside the member"),
        ([str(folder), str(tmp_path / "missing")], "missing holds no config.json or tokenizer.json"),
        ([str(folder), str(other_tokenizer_only)], "tokenizer-only holds no config.json: not a translator"),
    ):
        if "--output_dir" not in argv:
            argv = [*argv, "--output_dir", str(tmp_path / "ensemble")]
        with pytest.raises(SystemExit):
            script.main(argv)
        assert message in capsys.readouterr().err, message
    assert not (tmp_path / "ensemble").exists() and not (folder / "ensemble").exists()


@pytest.mark.slow
def test_remote_code_ensemble_and_pipeline_from_a_hub_snapshot_without_rnnformers(ensemble_folder, tmp_path):
    output, ensemble, tokenizer = ensemble_folder
    make_hub_snapshot(output, tmp_path, "someone/gru-nmt-ensemble")
    expected = generate_text(ensemble, tokenizer, "I like soccer.", num_beams=3, max_new_tokens=10)
    code = f"""
    from transformers import pipeline
    translator = pipeline("rnn-translation", model="someone/gru-nmt-ensemble", trust_remote_code=True)
    assert type(translator.model).__name__ == "Seq2SeqGRUAttentionEnsemble", type(translator.model)
    assert type(translator.model).__module__.startswith("transformers_modules"), type(translator.model).__module__
    assert translator("I like soccer.", num_beams=3) == [{{"translation_text": {expected!r}}}]
    print("ok")
    """
    assert run_python_without_rnnformers(code, tmp_path).stdout.strip().endswith("ok")

def test_split_by_source_keeps_every_translation_of_a_sentence_in_one_part():
    sources = [f"sentence {i}" for i in range(100)]
    pairs = Dataset.from_dict({"source": sources + sources[:30], "target": [f"t{i}" for i in range(130)]})
    splits = split_by_source(pairs, 0.1, 0.2, seed=0)
    validation, test = set(splits["validation"]["source"]), set(splits["test"]["source"])
    train = set(splits["train"]["source"])
    assert (len(validation), len(test), len(train)) == (10, 20, 70)
    assert not (validation & train or test & train or validation & test)
    for row in splits["test"]:
        index = int(row["source"].split()[1])
        assert row["references"] == ([f"t{index}", f"t{index + 100}"] if index < 30 else [f"t{index}"])


def test_scorer_matches_translations_to_their_references_whatever_the_evaluation_order(translator):
    _, _, tokenizer = translator
    sources = ["I like soccer.", "Where is the station?", "Go."]
    references = [["Me gusta el fútbol."], ["¿Dónde está la estación?", "¿Dónde queda la estación?"], ["Vete."]]
    source_ids = [tokenizer(text)["input_ids"] for text in sources]
    scorer = TranslationScorer(tokenizer, source_ids, references)

    def padded(rows, value):
        width = max(len(row) for row in rows)
        return np.array([row + [value] * (width - len(row)) for row in rows])

    # The Trainer hands back rows in its own order (here reversed), generated ids padded with -100.
    order = [2, 1, 0]
    perfect = [tokenizer(references[i][-1])["input_ids"] for i in order]
    prediction = EvalPrediction(
        predictions=padded(perfect, -100), label_ids=None, inputs=padded([source_ids[i] for i in order], 0)
    )
    scores = scorer(prediction)
    assert scores["bleu_all_refs"] == pytest.approx(100) and scores["chrf_all_refs"] == pytest.approx(100)
    # The headline figures use the first reference only: the second sentence matches only its second reference.
    assert scores["bleu"] < 100 and scores["chrf"] < 100


def test_scorer_keeps_the_references_of_sources_identical_once_cut():
    texts = ["Tom said that he would come back tomorrow.", "Tom said that he would leave today.", "Go away."]
    tokenizer = train_subword_tokenizer(texts * 3, vocab_size=300, add_bos_eos=True)
    references = [["Tom dijo que volvería mañana."], ["Tom dijo que se iría hoy."], ["Vete."]]
    splits = {"validation": Dataset.from_dict({"source": texts, "target": [refs[0] for refs in references],
                                               "references": references})}
    tokenized = {"validation": splits["validation"].map(PairTokenizer(tokenizer, 5, 16), batched=True)}
    assert tokenized["validation"]["input_ids"][0] == tokenized["validation"]["input_ids"][1]  # cut alike
    scorer = TranslationScorer.for_held_out_parts(tokenizer, splits, tokenized)
    # The same input, so the same translation for both rows: scored against each source's own reference.
    translations = ["Tom dijo que volvería mañana.", "Tom dijo que volvería mañana.", "Vete."]

    def padded(rows, value):
        width = max(len(row) for row in rows)
        return np.array([row + [value] * (width - len(row)) for row in rows])

    prediction = EvalPrediction(predictions=padded([tokenizer(text)["input_ids"] for text in translations], -100),
                                label_ids=None, inputs=padded(tokenized["validation"]["input_ids"], 0))
    expected = load_metric("bleu_chrf").compute(predictions=translations, references=references)
    scores = scorer(prediction)
    assert (scores["bleu"], scores["chrf"]) == pytest.approx((expected["bleu"], expected["chrf"]))
    # An evaluation holding one of the two rows cannot tell whose references are meant; nor can a scorer whose
    # validation and test parts share an input.
    one_row = EvalPrediction(predictions=prediction.predictions[:1], label_ids=None, inputs=prediction.inputs[:1])
    with pytest.raises(ValueError, match="2 sources are identical once cut .* this evaluation holds 1"):
        scorer(one_row)
    parts = {"validation": splits["validation"].select([0, 2]), "test": splits["validation"].select([1])}
    parted = {name: tokenized["validation"].select(rows) for name, rows in (("validation", [0, 2]), ("test", [1]))}
    with pytest.raises(ValueError, match="1 validation and test sources are identical .* --max_source_length"):
        TranslationScorer.for_held_out_parts(tokenizer, parts, parted)


@pytest.mark.slow
def test_training_script_trains_scores_and_writes_a_card(tmp_path):
    # Every 50th pair of the bundled file: the script's real TSV loading, at a test's size.
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(SPA_ENG.read_text(encoding="utf-8").splitlines()[::50]) + "\n", encoding="utf-8")
    output_dir = tmp_path / "nmt"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_translation.py"), "--train_file", str(pairs),
         "--output_dir", str(output_dir), "--do_train", "--do_eval", "--do_predict", "--max_train_samples", "600",
         "--max_steps", "6", "--vocab_size", "400",
         "--config_overrides", "embedding_dim=16,hidden_size=16,num_layers=1,bidirectional_encoder=true",
         "--per_device_train_batch_size", "32",
         "--predict_with_generate", "--eval_strategy", "steps", "--eval_steps", "3", "--save_steps", "3",
         "--max_eval_samples", "20", "--max_predict_samples", "20", "--validation_split_percentage", "2",
         "--test_split_percentage", "2", "--num_beams", "2", "--load_best_model_at_end",
         "--metric_for_best_model", "bleu", "--max_source_length", "8", "--max_target_length", "12",
         "--report_to", "none",
         "--train_sampling_strategy", "group_by_length",
         "--disable_tqdm", "true", "--dataloader_pin_memory", "false"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    test_results = json.loads((output_dir / "test_results.json").read_text())
    assert test_results["test_samples"] == 20
    for key in ("test_bleu", "test_chrf", "test_bleu_all_refs", "test_chrf_all_refs"):
        assert 0 <= test_results[key] <= 100
    assert json.loads((output_dir / "validation_results.json").read_text())["validation_samples"] == 20
    card = (output_dir / "README.md").read_text()
    assert "pipeline_tag: translation" in card
    for row in ("| test BLEU |", "| test chrF |", "| test BLEU (all references) |", "| test chrF (all references) |"):
        assert row in card, row
    # Sources longer than --max_source_length 8 are counted and reported, not silently cut.
    train_results = json.loads((output_dir / "train_results.json").read_text())
    assert train_results["train_sources_cut"] > 0
    assert "longer than --max_source_length 8 tokens" in result.stdout + result.stderr
    assert f"{train_results['train_sources_cut']:,} / {train_results['train_targets_cut']:,} training pairs" in card
    model = AutoModelForSeq2SeqLM.from_pretrained(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    assert model.generation_config.max_length == 13 and len(tokenizer) == model.config.vocab_size
    assert model.config.bidirectional_encoder and model.config.hidden_size == 16

    # Scoring the saved model without training gives the same test scores; its card states no hyperparameters.
    scored = tmp_path / "scored"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_translation.py"), "--train_file", str(pairs),
         "--model_name_or_path", str(output_dir), "--output_dir", str(scored), "--do_predict",
         "--predict_with_generate", "--max_predict_samples", "20", "--validation_split_percentage", "2",
         "--test_split_percentage", "2", "--num_beams", "2", "--max_target_length", "12", "--report_to", "none"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # A scoring run reads only the parts it scores, not the training part (the progress bars name the parts).
    assert "tokenize test" in result.stderr and "tokenize train" not in result.stderr
    rescored = json.loads((scored / "test_results.json").read_text())
    assert rescored["test_bleu"] == pytest.approx(test_results["test_bleu"])
    scored_card = (scored / "README.md").read_text()
    assert "Not trained by this run" in scored_card and "learning rate" not in scored_card
    assert "learning rate" in card and (scored / "translation.py").is_file()

    # Resuming reads the checkpoint's own tokenizer; resuming with another one is refused before any training.
    other = tmp_path / "other-tokenizer"
    train_subword_tokenizer(["I like soccer. Me gusta el fútbol."] * 3, vocab_size=300, add_bos_eos=True
                            ).save_pretrained(other)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_translation.py"), "--train_file", str(pairs),
         "--output_dir", str(output_dir), "--do_train", "--max_train_samples", "600", "--max_steps", "9",
         "--tokenizer_name", str(other), "--resume_from_checkpoint", str(output_dir / "checkpoint-6"),
         "--report_to", "none"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode != 0
    assert "differs from the one saved with --resume_from_checkpoint" in result.stderr

    # An ensemble of the model and its first checkpoint (one tokenizer) is scored by the same script.
    ensemble = tmp_path / "ensemble"
    load_script("ensemble_translators.py").main([str(output_dir), str(output_dir / "checkpoint-3"),
                                                 "--output_dir", str(ensemble)])
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_translation.py"), "--train_file", str(pairs),
         "--model_name_or_path", str(ensemble), "--output_dir", str(tmp_path / "ensemble-scored"), "--do_predict",
         "--predict_with_generate", "--max_predict_samples", "20", "--validation_split_percentage", "2",
         "--test_split_percentage", "2", "--num_beams", "2", "--max_target_length", "12", "--report_to", "none"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert 0 <= json.loads((tmp_path / "ensemble-scored" / "test_results.json").read_text())["test_bleu"] <= 100
    scored_card = (tmp_path / "ensemble-scored" / "README.md").read_text()
    assert "An ensemble of 2 translators that decode together" in scored_card


def test_distillation_translates_the_training_sources_only_and_resumes(translator, tmp_path):
    folder, model, tokenizer = translator
    pairs_file = tmp_path / "pairs.tsv"
    pairs_file.write_text("\n".join(SPA_ENG.read_text(encoding="utf-8").splitlines()[3000:3300]) + "\n",
                          encoding="utf-8")
    output = tmp_path / "distilled" / "train.tsv"
    common = ["--teacher", str(folder), "--output_file", str(output), "--train_file", str(pairs_file),
              "--validation_split_percentage", "10", "--test_split_percentage", "10", "--num_beams", "2",
              "--max_new_tokens", "6", "--batch_size", "16", "--dtype", "float32"]
    distill = load_script("distill_translations.py")
    # Interrupted after 20 sources, then run again: only the rest is translated, each source once.
    first = distill.main([*common, "--max_sources", "20"])
    assert (first["translated_now"], first["already_done"]) == (20, 0)
    second = distill.main(common)
    assert second["already_done"] == 20 and second["translated_now"] == second["sources"] - 20

    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()]
    sources = [source for source, _ in rows]
    lines = [line.split("\t") for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    pairs = Dataset.from_dict({"source": [line[0] for line in lines], "target": [line[1] for line in lines]})
    splits = split_by_source(pairs, 0.10, 0.10, 42)
    assert sorted(sources) == sorted(set(splits["train"]["source"]))  # every training source, once
    held_out = set(splits["validation"]["source"]) | set(splits["test"]["source"])
    assert held_out and not held_out & set(sources)  # never a validation or test source
    for source, translation in rows[:3]:  # the teacher's own beam-search translation
        assert translation == generate_text(model, tokenizer, source, num_beams=2, max_new_tokens=6)

    # A file made from another split is refused, naming the flag.
    with pytest.raises(ValueError, match="--output_file .*not in this training part"):
        distill.main([*common, "--split_seed", "7"])

    # The student's training part (train_translation.py --distilled_train_file, --keep_original_pairs).
    distilled = load_pairs(str(output))
    student = distilled_training_part(splits["train"], distilled, False, "--distilled_train_file")
    assert dict(zip(student["source"], student["target"])) == dict(rows)
    both = distilled_training_part(splits["train"], distilled, True, "--distilled_train_file")
    assert len(both) == len(splits["train"]) + len(rows)
    other_split = split_by_source(pairs, 0.10, 0.10, 7)["train"]
    with pytest.raises(ValueError, match="--distilled_train_file: .* not in this run's training part"):
        distilled_training_part(other_split, distilled, False, "--distilled_train_file")
