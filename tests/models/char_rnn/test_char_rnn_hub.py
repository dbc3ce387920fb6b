"""The char tokenizer, Auto* registration, saved folders, remote code from a Hub-cache snapshot, pipelines, the CLI."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from rnnformers import CharRNNConfig, CharRNNForCausalLM
from rnnformers.cli import generate_main, generate_texts
from rnnformers.quantization import quantize_dynamic_int8
from rnnformers.tokenization import build_char_tokenizer

from conftest import make_hub_snapshot, run_python_without_rnnformers


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, shakespeare_text):
    """A small char-RNN with the cased Shakespeare tokenizer, saved as a Hub-ready folder."""
    folder = tmp_path_factory.mktemp("char-rnn")
    tokenizer = build_char_tokenizer(shakespeare_text)
    torch.manual_seed(0)
    config = CharRNNConfig(vocab_size=len(tokenizer), hidden_size=24, pad_token_id=tokenizer.pad_token_id,
                           unk_token_id=tokenizer.unk_token_id)
    model = CharRNNForCausalLM(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


# --- tokenizer -----------------------------------------------------------------------------------------------------


def test_char_tokenizer_vocabulary_sizes_match_the_chapter(shakespeare_text):
    lower = build_char_tokenizer(shakespeare_text, lowercase=True)
    cased = build_char_tokenizer(shakespeare_text)
    specials = 2  # <pad>, <unk>
    assert len(lower) == 39 + specials
    assert len(cased) == 65 + specials
    assert lower.decode(lower("Hello, World!\n")["input_ids"]) == "hello, world!\n"
    assert cased.decode(cased("Hello, World!\n")["input_ids"]) == "Hello, World!\n"


def test_char_tokenizer_maps_unknown_characters_to_unk(shakespeare_text):
    tokenizer = build_char_tokenizer(shakespeare_text)
    ids = tokenizer("né€")["input_ids"]
    assert ids == [tokenizer.convert_tokens_to_ids("n"), tokenizer.unk_token_id, tokenizer.unk_token_id]


def test_char_tokenizer_rejects_empty_corpus():
    with pytest.raises(ValueError, match="no characters"):
        build_char_tokenizer("")


def test_saved_tokenizer_is_a_plain_tokenizer_json(saved_model):
    folder, _, tokenizer = saved_model
    assert (folder / "tokenizer.json").is_file()
    loaded = AutoTokenizer.from_pretrained(folder)
    assert loaded("To be")["input_ids"] == tokenizer("To be")["input_ids"]
    assert loaded.padding_side == "left"


# --- registration and saved folders --------------------------------------------------------------------------------


def test_saved_folder_has_safetensors_code_and_auto_map(saved_model):
    folder, _, _ = saved_model
    for name in ("model.safetensors", "config.json", "configuration_char_rnn.py", "modeling_char_rnn.py"):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "char_rnn"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_char_rnn.CharRNNConfig",
        "AutoModel": "modeling_char_rnn.CharRNNModel",
        "AutoModelForCausalLM": "modeling_char_rnn.CharRNNForCausalLM",
    }
    # The modeling file must stand alone: its only local import is its configuration.
    imports = [line for line in (folder / "modeling_char_rnn.py").read_text().splitlines()
               if line.startswith(("from ", "import "))]
    assert [line for line in imports if line.startswith("from .")] == [
        "from .configuration_char_rnn import CharRNNConfig"]
    assert not any("rnnformers" in line for line in imports)


def test_auto_model_loads_the_registered_class(saved_model):
    folder, model, _ = saved_model
    loaded = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(loaded, CharRNNForCausalLM)
    ids = torch.tensor([[5, 6, 7]])
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits)


def test_remote_code_loads_from_a_hub_snapshot_without_rnnformers(saved_model, tmp_path):
    folder, model, tokenizer = saved_model
    make_hub_snapshot(folder, tmp_path, "someone/char-rnn-test")
    prompt_ids = tokenizer("To be", return_tensors="pt")["input_ids"]
    expected = model.generate(prompt_ids, max_new_tokens=20, do_sample=False, pad_token_id=0)
    result = run_python_without_rnnformers(
        """
        import json, torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
        try:
            import rnnformers
            raise SystemExit("rnnformers should not be importable here")
        except ImportError:
            pass
        model = AutoModelForCausalLM.from_pretrained("someone/char-rnn-test", trust_remote_code=True).eval()
        tokenizer = AutoTokenizer.from_pretrained("someone/char-rnn-test", trust_remote_code=True)
        ids = tokenizer("To be", return_tensors="pt")["input_ids"]
        out = model.generate(ids, max_new_tokens=20, do_sample=False, pad_token_id=0)
        beams = model.generate(ids, max_new_tokens=10, num_beams=3, pad_token_id=0)
        generator = pipeline("text-generation", model="someone/char-rnn-test", trust_remote_code=True)
        text = generator("To be", max_new_tokens=5, do_sample=False)[0]["generated_text"]
        print(json.dumps({"cls": type(model).__module__, "ids": out[0].tolist(), "text": text}))
        """,
        tmp_path,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["cls"].startswith("transformers_modules.")
    assert report["ids"] == expected[0].tolist()
    assert report["text"].startswith("To be") and len(report["text"]) == len("To be") + 5


# --- pipeline and generation entry point ---------------------------------------------------------------------------


def test_text_generation_pipeline_batches_left_padded_prompts(saved_model):
    folder, model, tokenizer = saved_model
    generator = pipeline("text-generation", model=str(folder))
    prompts = ["To be or not", "Ro"]
    outputs = generator(prompts, max_new_tokens=8, do_sample=False, batch_size=2)
    for prompt, output in zip(prompts, outputs):
        alone = model.generate(tokenizer(prompt, return_tensors="pt")["input_ids"], max_new_tokens=8,
                               do_sample=False, pad_token_id=0)
        assert output[0]["generated_text"] == tokenizer.decode(alone[0])


def test_generate_entry_point_prints_samples(saved_model, capsys):
    folder, _, _ = saved_model
    generate_main([str(folder), "--prompt", "To be", "--prompt", "Ro", "--max_new_tokens", "12", "--do_sample",
                   "--temperature", "0.7", "--top_k", "10", "--top_p", "0.95", "--seed", "3"])
    first = capsys.readouterr().out
    generate_main([str(folder), "--prompt", "To be", "--prompt", "Ro", "--max_new_tokens", "12", "--do_sample",
                   "--temperature", "0.7", "--top_k", "10", "--top_p", "0.95", "--seed", "3"])
    assert capsys.readouterr().out == first  # --seed makes sampling reproducible
    assert "=== 0 ===" in first and "=== 1 ===" in first and "To be" in first


def test_generate_entry_point_with_int8_kernels(saved_model, capsys):
    folder, model, tokenizer = saved_model
    generate_main([str(folder), "--prompt", "To be", "--max_new_tokens", "12", "--dtype", "int8"])
    expected = generate_texts(quantize_dynamic_int8(model), tokenizer, ["To be"], max_new_tokens=12)
    assert capsys.readouterr().out == expected[0] + "\n"


def test_generate_texts_rejects_empty_prompts_and_warns_on_unknown_characters(saved_model, caplog):
    _, model, tokenizer = saved_model
    with pytest.raises(ValueError, match="prompt"):
        generate_texts(model, tokenizer, [""], max_new_tokens=3)
    with pytest.raises(ValueError, match="prompt"):
        generate_texts(model, tokenizer, [], max_new_tokens=3)
    with caplog.at_level("WARNING", logger="rnnformers"):
        texts = generate_texts(model, tokenizer, ["Tö be"], max_new_tokens=3, do_sample=False)
    assert "not in the model's vocabulary" in caplog.text
    assert texts[0].startswith("T be")  # the unknown character is read as <unk>, dropped when decoding
