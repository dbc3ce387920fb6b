"""ONNX export and ONNX Runtime inference (`rnnformers.onnx_export`) for every family of tests/models/test_common.py:
the graphs give the PyTorch model's outputs at shapes other than the export's, and the decoding loops give what
`generate()` gives."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="the `onnx` extra (onnxruntime) is not installed")

from rnnformers.onnx_export import (  # noqa: E402
    OnnxCharRNN,
    OnnxClassifier,
    OnnxTranslator,
    export_char_rnn,
    export_classifier,
    export_translator,
)
from rnnformers.quantization import quantize_dynamic_int8  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "models"))
from test_common import FAMILY_VARIANTS, GENERATIVE, padded_batch  # noqa: E402


CLASSIFIERS = [p for p in FAMILY_VARIANTS if p.values[0].name in ("gru", "gru_tagger", "rnn_tagger")
               and "char_lm_hidden_size" not in p.values[1]]
CHAR_RNNS = [p for p in GENERATIVE if p.values[0].name == "char_rnn"]
TRANSLATORS = [p for p in GENERATIVE if p.values[0].name == "seq2seq_gru_attention"]


@pytest.mark.parametrize(("family", "variant"), CLASSIFIERS)
def test_classifier_graph_gives_the_models_logits_on_padded_batches(family, variant, tmp_path):
    model = family.model(**variant)
    export_classifier(model, tmp_path)  # verifies at two other shapes itself
    runner = OnnxClassifier(tmp_path, model)
    for side in ("left", "right"):
        _, ids, mask = padded_batch(side)
        with torch.no_grad():
            if getattr(model, "crf", None) is not None:
                assert runner.decode(ids, mask) == model.decode(ids, mask)  # the CRF's Viterbi paths
                expected = model.emissions(ids, mask)[0]
            else:
                expected = model(input_ids=ids, attention_mask=mask).logits
        np.testing.assert_allclose(runner.logits(ids, mask), expected.numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("family", "variant"), CHAR_RNNS)
def test_char_rnn_step_graph_generates_what_generate_does(family, variant, tmp_path):
    model = family.model(**variant)
    runner = OnnxCharRNN(export_char_rnn(model, tmp_path))
    prompts = torch.randint(1, model.config.vocab_size, (2, 4), generator=torch.Generator().manual_seed(2))
    expected = model.generate(prompts, max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert np.array_equal(runner.generate(prompts.numpy(), max_new_tokens=12), expected.numpy())
    sampled = runner.generate(prompts.numpy(), max_new_tokens=12, do_sample=True, temperature=0.8, top_k=5, seed=1)
    again = runner.generate(prompts.numpy(), max_new_tokens=12, do_sample=True, temperature=0.8, top_k=5, seed=1)
    assert np.array_equal(sampled, again) and not np.array_equal(sampled, expected.numpy())
    # top-k 1 is greedy, whatever the temperature
    assert np.array_equal(runner.generate(prompts.numpy(), 12, do_sample=True, top_k=1, seed=3), expected.numpy())


@pytest.mark.parametrize(("family", "variant"), TRANSLATORS)
def test_translator_graphs_decode_as_generate_greedy_and_beam(family, variant, tmp_path):
    model = family.model(**variant)
    model.generation_config.max_new_tokens = 8
    runner = OnnxTranslator(export_translator(model, tmp_path))
    _, ids, mask = padded_batch("left")
    for num_beams in (1, 3):
        expected = model.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=8, pad_token_id=0)
        # generate() pads finished rows; each row's tokens after the start token, up to its first </s>
        rows = []
        for row in expected[:, 1:].tolist():
            eos = model.config.eos_token_id
            rows.append(row[: row.index(eos) + 1] if eos in row else row)
        assert runner.generate(ids.numpy(), mask.numpy(), num_beams=num_beams, max_new_tokens=8) == rows, num_beams


def test_export_refuses_what_it_cannot_export(tmp_path):
    family, variant = CLASSIFIERS[0].values
    model = family.model(**variant)
    with pytest.raises(ValueError, match="must be a char_rnn model"):
        export_char_rnn(model, tmp_path / "a")
    with pytest.raises(ValueError, match="int8"):
        export_classifier(quantize_dynamic_int8(model), tmp_path / "b")
    export_classifier(model, tmp_path / "c")
    with pytest.raises(ValueError, match="holds an exported classifier, not a char_rnn"):
        OnnxCharRNN(tmp_path / "c")
    with pytest.raises(ValueError, match="no onnx_manifest.json"):
        OnnxTranslator(tmp_path / "nothing")
    tagger_family, tagger_variant = next(p.values for p in FAMILY_VARIANTS if "char_lm_hidden_size" in p.values[1])
    with pytest.raises(ValueError, match="contextual character-LM"):
        export_classifier(tagger_family.model(**tagger_variant), tmp_path / "d")


def test_int8_graph_runs_onnxruntimes_fused_int8_lstm_close_to_float(tmp_path):
    onnx = pytest.importorskip("onnx")
    family, variant = next(p.values for p in CLASSIFIERS if p.values[1].get("cell_type") == "lstm")
    model = family.model(**variant)
    runner = OnnxClassifier(export_classifier(model, tmp_path, quantize=True), model)
    assert runner.manifest["int8"] is True
    operators = {node.op_type for node in onnx.load(tmp_path / "model.onnx").graph.node}
    assert "DynamicQuantizeLSTM" in operators and "LSTM" not in operators
    _, ids, mask = padded_batch("left")
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits.numpy()
    difference = np.abs(runner.logits(ids, mask) - expected).max()
    assert 0 < difference < 0.05 * np.abs(expected).max()
