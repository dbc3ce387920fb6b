"""The demo app (`app.py`, `rnnformers.app`): its functions called directly on tiny untrained folders built with
`rnnformers.demo_models`, then the page itself in a headless Chromium (playwright), served on a free local port."""

import importlib.util
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnformers import app
from rnnformers.demo_models import UNTRAINED, build_char_rnn, build_classifier, build_tagger, build_translator
from rnnformers.training.modelcard import CardInfo, CardMetric, write_model_card
from conftest import ROOT, SHAKESPEARE


REVIEWS = ["A wonderful film with a great cast.", "Boring, badly acted and far too long.",
           "I loved every minute of it.", "The worst movie I have seen this year."] * 5
PAIRS = [("I like soccer.", "Me gusta el fútbol."), ("Where is the station?", "¿Dónde está la estación?"),
         ("He is my friend.", "Él es mi amigo."), ("We play at the beach.", "Jugamos en la playa.")] * 5
SENTENCES = [["I", "did", "n't", "see", "the", "old", "man", "."], ["She", "runs", "to", "the", "station", "."]] * 5
TAGS = ["ADJ", "ADP", "DET", "NOUN", "PART", "PRON", "PUNCT", "VERB"]
SMALL = {"embedding_dim": 8, "hidden_size": 8, "num_layers": 1}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("app-models")
    return {
        "char_rnn": build_char_rnn(root / "char-rnn", SHAKESPEARE.read_text(encoding="utf-8")[:20_000], **SMALL),
        "classifier": build_classifier(root / "classifier", REVIEWS, vocab_size=300, **SMALL),
        "translator": build_translator(root / "translator", PAIRS, vocab_size=300, max_target_length=12, **SMALL),
        "tagger": build_tagger(root / "tagger", SENTENCES, TAGS, vocab_size=100, **SMALL),
        "tagger_no_crf": build_tagger(root / "tagger-no-crf", SENTENCES, TAGS, vocab_size=100, use_crf=False, **SMALL),
    }


@pytest.fixture(scope="module")
def served(folders):
    result = {name: app.load_served(name, folders[name]) for name in ("char_rnn", "classifier", "translator", "tagger")}
    for name, one in result.items():
        assert one.ok, (name, one.error)
    return result


def test_an_abandoned_stream_stops_its_generation_thread(served):
    before = threading.active_count()
    stream = app.generate_stream(served["char_rnn"], "ROMEO:", max_new_tokens=1000, do_sample=True, seed=1)
    next(stream)
    next(stream)
    stream.close()  # what Gradio does when the page goes away: the thread must not go on generating 1,000 tokens
    assert threading.active_count() == before


def test_generation_streams_one_character_at_a_time(served):
    model, tokenizer = served["char_rnn"].model, served["char_rnn"].tokenizer
    steps = list(app.generate_stream(served["char_rnn"], "ROMEO:", max_new_tokens=12, do_sample=False))
    assert len(steps) >= 2 and steps[0].startswith("ROMEO:")
    assert all(later.startswith(earlier) and len(later) > len(earlier) for earlier, later in zip(steps, steps[1:]))
    # The stream ends on what one plain greedy generate() call gives.
    inputs = tokenizer("ROMEO:", return_tensors="pt", add_special_tokens=False)
    expected = model.generate(**inputs, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert steps[-1] == "ROMEO:" + tokenizer.decode(expected[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    # Sampling with a seed repeats; beam search comes at once, at the end.
    sampled = [list(app.generate_stream(served["char_rnn"], "To be", max_new_tokens=15, do_sample=True,
                                        temperature=1.5, top_k=20, top_p=0.9, seed=7))[-1] for _ in range(2)]
    assert sampled[0] == sampled[1] and len(sampled[0]) > len("To be")
    assert len(list(app.generate_stream(served["char_rnn"], "To be", max_new_tokens=10, do_sample=False,
                                        num_beams=3))) == 1
    with pytest.raises(ValueError, match="prompt is empty"):
        list(app.generate_stream(served["char_rnn"], ""))
    with pytest.raises(ValueError, match="temperature must be positive"):
        list(app.generate_stream(served["char_rnn"], "To", temperature=0))


def test_classify_gives_probabilities_and_one_effect_per_word(served):
    text = "A wonderful film, badly acted though."
    probabilities, highlights = app.classify(served["classifier"], text)
    assert set(probabilities) == {"NEGATIVE", "POSITIVE"}
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    words = [(piece, score) for piece, score in highlights if piece != " "]
    assert [piece for piece, _ in words] == text.split()
    assert "".join(piece for piece, _ in highlights) == text
    scores = np.array([score for _, score in words])
    assert np.abs(scores).max() == pytest.approx(1.0) and np.all(np.abs(scores) <= 1.0)
    # Leave-one-out, checked against the model: the predicted class's probability without each word.
    model, tokenizer = served["classifier"].model, served["classifier"].tokenizer

    def probability(sentence, label):
        with torch.no_grad():
            logits = model(**tokenizer(sentence, return_tensors="pt")).logits
        return torch.softmax(logits, -1)[0, model.config.label2id[label]].item()

    predicted = max(probabilities, key=probabilities.get)
    assert probabilities[predicted] == pytest.approx(probability(text, predicted), abs=1e-5)
    effects = [probabilities[predicted] - probability(" ".join(text.split()[:i] + text.split()[i + 1:]), predicted)
               for i in range(len(words))]
    np.testing.assert_allclose(scores, np.array(effects) / np.abs(effects).max(), atol=1e-3)
    with pytest.raises(ValueError, match="text is empty"):
        app.classify(served["classifier"], "  ")


def test_translate_gives_text_and_attention_of_the_right_shape(served):
    model, tokenizer = served["translator"].model, served["translator"].tokenizer
    result = app.translate(served["translator"], "I like soccer.", num_beams=3)
    inputs = tokenizer("I like soccer.", return_tensors="pt")
    output = model.generate(**inputs, num_beams=3)
    assert result.text == tokenizer.decode(output[0], skip_special_tokens=True).strip()
    generated = output[0, 1:]
    assert result.attention.shape == (len(generated[generated != tokenizer.pad_token_id]), inputs["input_ids"].shape[1])
    assert result.attention.shape == (len(result.target_tokens), len(result.source_tokens))
    np.testing.assert_allclose(result.attention.sum(axis=1), 1.0, atol=1e-5)
    figure = app.attention_figure(result)
    assert np.asarray(figure.data[0].z).shape == result.attention.shape
    assert "0: &lt;s&gt;" in figure.data[0].x  # plotly reads labels as HTML: "<s>" escaped


def test_tag_gives_one_tag_per_word_and_says_which_decoding(served, folders):
    sentence = "I did n't see the unknownword station ."
    tags, use_crf = app.tag(served["tagger"], sentence)
    assert [word for word, _ in tags] == sentence.split()
    assert all(label in TAGS for _, label in tags)
    assert use_crf is True and "Viterbi" in app.crf_markdown(served["tagger"])
    # Each word's tag is its first token's on the Viterbi path.
    model, tokenizer = served["tagger"].model, served["tagger"].tokenizer
    encoding = tokenizer(sentence.split(), is_split_into_words=True, return_tensors="pt")
    path = model.decode(encoding["input_ids"], encoding["attention_mask"])[0]
    firsts = [encoding.word_ids(0).index(i) for i in range(len(sentence.split()))]
    assert [label for _, label in tags] == [model.config.id2label[path[i]] for i in firsts]
    no_crf = app.load_served("tagger", folders["tagger_no_crf"])
    assert app.tag(no_crf, sentence)[1] is False and "no CRF" in app.crf_markdown(no_crf)


def test_missing_and_wrong_family_folders_give_messages(folders, tmp_path):
    missing = app.load_served("classifier", tmp_path / "nothing-here")
    assert not missing.ok and "does not exist" in missing.error and "--classifier" in missing.error
    assert "No model on this tab" in missing.header_markdown()
    with pytest.raises(app.ModelUnavailable, match="does not exist"):
        app.classify(missing, "Great film.")
    wrong = app.load_served("tagger", folders["char_rnn"])
    assert not wrong.ok and "model_type `char_rnn`" in wrong.error and "scripts/train_tagger.py" in wrong.error
    with pytest.raises(app.ModelUnavailable, match="another family"):
        app.tag(wrong, "I saw it .")
    # A GRU folder with another head: the family is right, the head is not.
    lm_folder = tmp_path / "gru-lm"
    shutil.copytree(folders["classifier"], lm_folder)
    config = (lm_folder / "config.json").read_text().replace("GRUForSequenceClassification", "GRUForCausalLM")
    (lm_folder / "config.json").write_text(config)
    assert "another head (GRUForCausalLM)" in app.load_served("classifier", lm_folder).error
    (tmp_path / "empty").mkdir()
    assert "no model config could be loaded" in app.load_served("translator", tmp_path / "empty").error
    assert "No folder given" in app.load_served("char_rnn", None).error


def test_quality_is_read_from_the_card_or_the_results(folders, tmp_path):
    untrained = app.quality_markdown(folders["char_rnn"])
    assert UNTRAINED in untrained and "Measured quality: none" in untrained
    scored = tmp_path / "scored"
    shutil.copytree(folders["classifier"], scored)
    (scored / "README.md").unlink()
    (scored / "validation_results.json").write_text('{"validation_accuracy": 0.8842, "validation_runtime": 3.0}')
    (scored / "train_results.json").write_text('{"train_runtime": 1680.0, "epoch": 3.0}')
    text = app.quality_markdown(scored)
    assert "| validation_accuracy | 0.8842 | `validation_results.json` |" in text and "runtime |" not in text
    assert "Trained for 1680 s (3 epochs)." in text
    write_model_card(scored, CardInfo(
        model_name="gru-imdb", description="A GRU classifier.", usage="", training="", task_type="text-classification",
        metrics=[CardMetric("accuracy", 0.8842, "imdb", "IMDb", "validation (20% of train)")]))
    text = app.quality_markdown(scored)
    assert "from the folder's model card" in text and "| accuracy | 0.8842 | IMDb, validation (20% of train) |" in text


def test_root_app_py_runs_the_app_main():
    spec = importlib.util.spec_from_file_location("root_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main is app.main
    args = app.build_parser().parse_args([])
    assert (args.char_rnn, args.host, args.port) == ("./outputs/char-rnn-shakespeare", None, None)


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_page_in_a_headless_browser(folders, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry from a test
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium binary (apt-get install -y chromium; .ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    pytest.importorskip("gradio", reason="gradio is not installed (the dev and app extras have it)")
    port = _free_port()
    # The classifier tab gets a tagger folder: the page must say so instead of serving it.
    demo = app.main(["--char_rnn", str(folders["char_rnn"]), "--classifier", str(folders["tagger"]),
                     "--translator", str(folders["translator"]), "--tagger", str(folders["tagger"]),
                     "--host", "127.0.0.1", "--port", str(port)], prevent_thread_lock=True, quiet=True)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], timeout=30_000)
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"http://127.0.0.1:{port}/")
            assert str(folders["char_rnn"]) in page.inner_text("#char_rnn-header")

            page.fill("#prompt textarea", "KING:")
            page.fill("#generate-max-new input[type=number]", "40")
            page.press("#generate-max-new input[type=number]", "Enter")
            page.click("#generate-button")
            page.wait_for_function("() => document.querySelector('#generated textarea').value.length > 30")
            generated = page.input_value("#generated textarea")
            assert generated.startswith("KING:")
            shot = Path(os.environ.get("APP_SCREENSHOT", tmp_path / "app.png"))
            page.screenshot(path=str(shot), full_page=True)
            page.fill("#prompt textarea", "")  # bad input: a message on the page, not a traceback
            page.click("#generate-button")
            page.get_by_text("the prompt is empty").first.wait_for()
            assert "Traceback" not in page.inner_text("body")

            page.get_by_role("tab", name="Classify").click()
            header = page.inner_text("#classifier-header")
            assert "another family" in header and "model_type rnn_tagger" in header.replace("`", "")
            assert not page.locator("#classify-button").is_visible()

            page.get_by_role("tab", name="Translate").click()
            page.fill("#source textarea", "I like soccer.")
            page.click("#translate-button")
            page.wait_for_function("() => document.querySelector('#translation textarea').value.length > 0")
            page.wait_for_selector("#attention .js-plotly-plot")
            assert page.input_value("#translation textarea") == app.translate(
                app.load_served("translator", folders["translator"]), "I like soccer.", 5).text

            page.get_by_role("tab", name="Tag").click()
            assert "Viterbi" in page.inner_text("#tagger-header")
            page.fill("#sentence textarea", "She runs to the station .")
            page.click("#tag-button")
            page.wait_for_selector("#tags .label")
            labels = page.locator("#tags .label").all_inner_texts()
            words = page.locator("#tags .text:not(.unlabeled)").all_inner_texts()
            assert words == "She runs to the station .".split() and len(labels) == len(words)
            assert all(label in TAGS for label in labels)
            browser.close()
    finally:
        demo.close()
