"""Properties every model family keeps, checked for each family from one entry in `FAMILIES`.

A new family gets these checks by adding one `Family(...)` entry: padding on either side changes nothing, the cache
changes nothing, a save/reload changes nothing, a folder loads as remote code from a Hub snapshot without rnnformers,
`output_hidden_states` gives the embeddings and one tensor per layer, `torch.export` / `torch.compile(fullgraph=True)`
trace the forward pass with and without `attention_mask`, the base model loads with `AutoModel` and under every head,
a folder in the layout saved before the base models existed still loads, and config values set late are validated.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

import rnnformers  # noqa: F401  (registers the Auto classes)
from rnnformers import (
    CharRNNConfig,
    CharRNNForCausalLM,
    CharRNNModel,
    GRUConfig,
    GRUForCausalLM,
    GRUForSequenceClassification,
    GRUForTokenClassification,
    GRUModel,
    RNNTaggerConfig,
    RNNTaggerForTokenClassification,
    RNNTaggerModel,
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionModel,
)
from conftest import make_hub_snapshot, run_python_without_rnnformers


VOCAB = 40
ROW_LENGTHS = (7, 3, 5)


@dataclass
class Family:
    """How to build, feed and read one model family; everything else is common.

    `inputs(ids, mask)` turns `[batch, time]` ids and mask into forward kwargs; `outputs(out, mask)` returns, per row,
    the tensors that must not depend on padding (positions of padding left out); `old_key(name)` gives a parameter's
    name in the layout saved before the base models existed.
    """

    name: str
    config_class: type
    head_class: type
    base_class: type
    auto_head: type
    config_kwargs: dict
    inputs: Callable[[torch.Tensor, torch.Tensor | None], dict]
    outputs: Callable[[object, torch.Tensor], list[torch.Tensor]]
    old_key: Callable[[str], str] | None  # None: the family never had a layout without its base model
    bad_config_value: tuple[str, object]
    generative: bool = False
    variants: list[dict] = field(default_factory=lambda: [{}])

    def config(self, **overrides):
        return self.config_class(**{**self.config_kwargs, **overrides})

    def model(self, seed: int = 0, **overrides):
        torch.manual_seed(seed)
        return self.head_class(self.config(**overrides)).eval()

    def hidden_states_counts(self, out) -> list[int]:
        if hasattr(out, "encoder_hidden_states"):
            return [len(out.encoder_hidden_states), len(out.decoder_hidden_states)]
        return [len(out.hidden_states)]


def decoder_inputs(batch_size: int) -> torch.Tensor:
    return torch.randint(4, VOCAB, (batch_size, 4), generator=torch.Generator().manual_seed(11))


FAMILIES = [
    Family(
        name="char_rnn",
        config_class=CharRNNConfig,
        head_class=CharRNNForCausalLM,
        base_class=CharRNNModel,
        auto_head=AutoModelForCausalLM,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=12, num_layers=2, pad_token_id=0),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask),
        outputs=lambda out, mask: [out.logits[i, mask[i].bool()] for i in range(mask.shape[0])],
        old_key=lambda name: name.removeprefix("char_rnn."),
        bad_config_value=("cell_type", "rnn"),
        generative=True,
        variants=[{"cell_type": "gru"}, {"cell_type": "lstm"}],
    ),
    Family(
        name="gru",
        config_class=GRUConfig,
        head_class=GRUForSequenceClassification,
        base_class=GRUModel,
        auto_head=AutoModelForSequenceClassification,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask),
        outputs=lambda out, mask: list(out.logits),
        old_key=lambda name: name.removeprefix("gru."),
        bad_config_value=("pooling", "attention"),
        variants=[
            {"cell_type": "gru", "bidirectional": True, "pooling": "last"},
            {"cell_type": "lstm", "bidirectional": True, "pooling": "mean_max"},
            # ULMFiT's head: batch norms (running statistics in eval mode) and a hidden layer.
            {"cell_type": "gru", "bidirectional": True, "pooling": "mean_max", "classifier_batch_norm": True,
             "classifier_hidden_size": 5},
        ],
    ),
    Family(
        name="gru_lm",
        config_class=GRUConfig,
        head_class=GRUForCausalLM,
        base_class=GRUModel,
        auto_head=AutoModelForCausalLM,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0,
                           bidirectional=True, separate_directions=True),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask),
        outputs=lambda out, mask: [torch.cat([out.logits[i, mask[i].bool()], out.backward_logits[i, mask[i].bool()]])
                                   for i in range(mask.shape[0])],
        old_key=None,  # born with its base model: no older layout
        bad_config_value=("pooling", "attention"),
        variants=[{"cell_type": "gru"}, {"cell_type": "lstm"}],
    ),
    Family(
        name="gru_tagger",
        config_class=GRUConfig,
        head_class=GRUForTokenClassification,
        base_class=GRUModel,
        auto_head=AutoModelForTokenClassification,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0, num_labels=3),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask),
        outputs=lambda out, mask: [out.logits[i, mask[i].bool()] for i in range(mask.shape[0])],
        old_key=None,  # born with its base model: no older layout
        bad_config_value=("pooling", "attention"),
        variants=[
            {"cell_type": "lstm", "bidirectional": True, "separate_directions": True},
            {"cell_type": "gru", "bidirectional": False},
        ],
    ),
    Family(
        name="seq2seq_gru_attention",
        config_class=Seq2SeqGRUAttentionConfig,
        head_class=Seq2SeqGRUAttention,
        base_class=Seq2SeqGRUAttentionModel,
        auto_head=AutoModelForSeq2SeqLM,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=8, num_layers=2),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_inputs(len(ids))),
        outputs=lambda out, mask: list(out.logits),
        old_key=lambda name: (
            name.replace("model.decoder.rnn.", "decoder.")
            .replace("model.decoder.attention.", "attention.")
            .replace("model.encoder.", "encoder.")
        ),
        bad_config_value=("attention_type", "luong"),
        generative=True,
        variants=[
            {"attention_type": "dot", "bidirectional_encoder": True},
            {"attention_type": "concat", "tie_word_embeddings": True},
        ],
    ),
    Family(
        name="rnn_tagger",
        config_class=RNNTaggerConfig,
        head_class=RNNTaggerForTokenClassification,
        base_class=RNNTaggerModel,
        auto_head=AutoModelForTokenClassification,
        config_kwargs=dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0,
                           embedding_dropout=0.0, num_labels=3),
        inputs=lambda ids, mask: dict(input_ids=ids, attention_mask=mask),
        outputs=lambda out, mask: [out.logits[i, mask[i].bool()] for i in range(mask.shape[0])],
        old_key=None,  # born with its base model: no older layout
        bad_config_value=("cell_type", "rnn"),
        variants=[
            {"cell_type": "lstm"},
            # Contextual string features: their token texts are empty here, so the features are zeros (the tests in
            # tests/models/rnn_tagger fill them, compile and export them).
            {"cell_type": "lstm", "char_lm_hidden_size": 3, "char_lm_vocab_size": 5, "char_lm_embedding_dim": 2},
            {"cell_type": "gru", "use_crf": True, "char_features": 4},  # last: the compile and remote-code tests' one
        ],
    ),
]
FAMILY_VARIANTS = [
    pytest.param(family, variant, id=f"{family.name}-{'-'.join(f'{v}' for v in variant.values()) or 'default'}")
    for family in FAMILIES
    for variant in family.variants
]
GENERATIVE = [param for param in FAMILY_VARIANTS if param.values[0].generative]
BY_FAMILY = [pytest.param(family, id=family.name) for family in FAMILIES]


def padded_batch(side: str, seed: int = 1) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.randint(1, VOCAB, (n,), generator=generator) for n in ROW_LENGTHS]
    width = max(ROW_LENGTHS) + 2
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        ids[i, span], mask[i, span] = row, 1
    return rows, ids, mask


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_padding_on_either_side_changes_nothing(family, variant, side):
    model = family.model(**variant)
    rows, ids, mask = padded_batch(side)
    with torch.no_grad():
        batched = family.outputs(model(**family.inputs(ids, mask)), mask)
        for i, row in enumerate(rows):
            alone_inputs = family.inputs(row[None], torch.ones(1, len(row), dtype=torch.long))
            if "decoder_input_ids" in alone_inputs:
                alone_inputs["decoder_input_ids"] = decoder_inputs(len(rows))[i : i + 1]
            alone = family.outputs(model(**alone_inputs), torch.ones(1, len(row)))[0]
            torch.testing.assert_close(batched[i], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("generate_kwargs", [dict(do_sample=False), dict(num_beams=3), dict(do_sample=True, top_k=5)],
                         ids=["greedy", "beam", "sample"])
@pytest.mark.parametrize(("family", "variant"), GENERATIVE)
def test_generate_with_the_cache_equals_without(family, variant, generate_kwargs):
    model = family.model(**variant)
    _, ids, mask = padded_batch("left")
    results = []
    for use_cache in (True, False):
        torch.manual_seed(3)
        results.append(model.generate(ids, attention_mask=mask, max_new_tokens=6, use_cache=use_cache,
                                      pad_token_id=0, **generate_kwargs))
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize(("family", "variant"), GENERATIVE)
def test_generation_contract(family, variant):
    model = family.model(**variant)
    _, ids, mask = padded_batch("left")
    # A recurrent state cannot be rolled back to the verified prefix: assisted decoding is refused, by the model itself
    # (5.25 dropped the `_is_stateful` check transformers made up to 5.24).
    with pytest.raises(ValueError, match="stateful"):
        model.generate(ids, attention_mask=mask, max_new_tokens=2, pad_token_id=0, prompt_lookup_num_tokens=2)
    for num_beams in (0, -1):
        with pytest.raises(ValueError, match="num_beams"):
            model.generate(ids, attention_mask=mask, max_new_tokens=2, num_beams=num_beams, pad_token_id=0)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=3, pad_token_id=0, return_dict_in_generate=True,
                         output_hidden_states=True)
    steps = out.decoder_hidden_states if model.config.is_encoder_decoder else out.hidden_states
    assert len(steps) == 3 and all(len(step) == model.config.num_layers + 1 for step in steps)
    if model.config.is_encoder_decoder:
        assert model.get_encoder(modality=None) is model.base_model.encoder


@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_hidden_states_are_the_embeddings_then_each_layer(family, variant):
    model = family.model(num_layers=3, **variant)
    _, ids, mask = padded_batch("right")
    out = model(**family.inputs(ids, mask), output_hidden_states=True)
    assert family.hidden_states_counts(out) == [3 + 1] * len(family.hidden_states_counts(out))


@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_save_and_reload_give_the_same_outputs(family, variant, tmp_path):
    model = family.model(**variant)
    _, ids, mask = padded_batch("left")
    model.save_pretrained(tmp_path)
    reloaded = family.auto_head.from_pretrained(tmp_path).eval()
    assert type(reloaded) is family.head_class
    assert torch.equal(reloaded(**family.inputs(ids, mask)).logits, model(**family.inputs(ids, mask)).logits)


@pytest.mark.parametrize("family", BY_FAMILY)
def test_base_model_under_the_head_and_with_auto_model(family, tmp_path):
    model = family.model()
    assert type(model.base_model) is family.base_class and model.base_model is getattr(model, model.base_model_prefix)
    model.save_pretrained(tmp_path / "head")
    base = AutoModel.from_pretrained(tmp_path / "head").eval()
    assert type(base) is family.base_class
    for name, tensor in base.state_dict().items():
        torch.testing.assert_close(tensor, model.state_dict()[f"{model.base_model_prefix}.{name}"], msg=name)

    # A head loaded from a base-model folder keeps the backbone and initialises the head.
    base.save_pretrained(tmp_path / "base")
    head = family.auto_head.from_pretrained(tmp_path / "base").eval()
    for name, tensor in base.state_dict().items():
        torch.testing.assert_close(head.state_dict()[f"{head.base_model_prefix}.{name}"], tensor, msg=name)


def test_a_classifier_from_another_classifier_keeps_the_backbone_and_resizes_the_head(tmp_path):
    model = FAMILIES[1].model()
    model.save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="size mismatch|ignore_mismatched_sizes"):
        GRUForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    resized = GRUForSequenceClassification.from_pretrained(tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    assert resized.classifier.out_features == 5
    torch.testing.assert_close(resized.gru.embed_tokens.weight, model.gru.embed_tokens.weight)


@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_a_folder_in_the_layout_saved_before_base_models_loads_with_the_same_outputs(family, variant, tmp_path):
    if family.old_key is None:
        pytest.skip(f"{family.name} was born with its base model: no older layout")
    model = family.model(**variant)
    model.save_pretrained(tmp_path)
    # The layout of main before the base models: no base-model prefix, the seq2seq decoder GRU and attention on top.
    old_state = {family.old_key(name): tensor for name, tensor in load_file(tmp_path / "model.safetensors").items()}
    assert not any(name.startswith(f"{model.base_model_prefix}.") for name in old_state)
    old_state = {name: tensor.contiguous() for name, tensor in old_state.items()}
    save_file(old_state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = family.auto_head.from_pretrained(tmp_path).eval()
    _, ids, mask = padded_batch("left")
    assert torch.equal(loaded(**family.inputs(ids, mask)).logits, model(**family.inputs(ids, mask)).logits)


@pytest.mark.parametrize("family", BY_FAMILY)
def test_load_state_dict_of_a_saved_folder_restores_the_model_as_the_trainer_does(family, tmp_path):
    # The Trainer resumes and reloads its best checkpoint with `model.load_state_dict(load_file(...), strict=False)`.
    model = family.model(**family.variants[-1])
    model.save_pretrained(tmp_path)
    fresh = family.model(seed=1, **family.variants[-1])
    result = fresh.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=False)
    assert not result.unexpected_keys and not [k for k in result.missing_keys if "lm_head" not in k], result
    _, ids, mask = padded_batch("left")
    assert torch.equal(fresh(**family.inputs(ids, mask)).logits, model(**family.inputs(ids, mask)).logits)
    base = family.base_class(model.config)
    assert not base.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=False).missing_keys


@pytest.mark.parametrize("family", BY_FAMILY)
def test_late_config_values_are_validated_when_the_model_is_built(family, tmp_path):
    field_name, bad_value = family.bad_config_value
    config = family.config()
    setattr(config, field_name, bad_value)
    with pytest.raises(ValueError, match=field_name):
        family.head_class(config)
    family.model().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=field_name):
        family.auto_head.from_pretrained(tmp_path, **{field_name: bad_value})
    with pytest.raises(ValueError, match=field_name):
        family.config(**{field_name: bad_value})


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize(("family", "variant"), FAMILY_VARIANTS)
def test_torch_export_traces_the_forward_pass(family, variant, with_mask):
    model = family.model(**variant)
    _, ids, mask = padded_batch("left")
    kwargs = family.inputs(ids, mask if with_mask else None)
    if not with_mask:
        del kwargs["attention_mask"]
    exported = torch.export.export(model, (), kwargs)
    torch.testing.assert_close(exported.module()(**kwargs).logits, model(**kwargs).logits)


@pytest.mark.parametrize("family", BY_FAMILY)
def test_torch_compile_fullgraph_runs_without_graph_breaks(family):
    torch._dynamo.reset()
    model = family.model(**family.variants[-1])
    compiled = torch.compile(model, fullgraph=True, dynamic=False)  # fullgraph: a graph break raises
    # One compilation per input signature (a few seconds each): padding on both sides with the mask, and, for the
    # generative families, no mask at all (what every generation step feeds).
    for side in ("left", "right"):
        _, ids, mask = padded_batch(side)
        kwargs = family.inputs(ids, mask)
        torch.testing.assert_close(compiled(**kwargs).logits, model(**kwargs).logits, atol=1e-5, rtol=1e-5)
    if family.generative:
        kwargs = family.inputs(ids, None)
        torch.testing.assert_close(compiled(**kwargs).logits, model(**kwargs).logits, atol=1e-5, rtol=1e-5)


REMOTE_CODE_CHECK = """
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification
from transformers import AutoModelForTokenClassification
from transformers import AutoModel
for name, auto in {families}:
    inputs = torch.load(f"{{name}}-inputs.pt")
    model = globals()[auto].from_pretrained(f"someone/{{name}}", trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    torch.testing.assert_close(model(**inputs).logits, torch.load(f"{{name}}-expected.pt"))
    # The head's folder also loads as its base model, and that backbone is the head's.
    base = AutoModel.from_pretrained(f"someone/{{name}}", trust_remote_code=True).eval()
    assert type(base) is type(model.base_model), (type(base), type(model.base_model))
    torch.testing.assert_close(base(**inputs)[0], model.base_model(**inputs)[0])
    print("loaded", name)
"""


def test_folders_load_as_remote_code_from_a_hub_snapshot_without_rnnformers(tmp_path):
    hf_home = tmp_path / "hf_home"
    for family in FAMILIES:
        model = family.model(**family.variants[-1])
        model.save_pretrained(tmp_path / family.name)
        config = json.loads((tmp_path / family.name / "config.json").read_text())
        assert config["auto_map"]["AutoModel"].endswith(f".{family.base_class.__name__}")
        assert family.auto_head.__name__ in config["auto_map"]
        make_hub_snapshot(tmp_path / family.name, hf_home, f"someone/{family.name}")
        _, ids, mask = padded_batch("left")
        inputs = family.inputs(ids, mask)
        torch.save(inputs, hf_home / f"{family.name}-inputs.pt")
        torch.save(model(**inputs).logits, hf_home / f"{family.name}-expected.pt")
    # One interpreter for every family (starting one costs seconds).
    families = [(family.name, family.auto_head.__name__) for family in FAMILIES]
    result = run_python_without_rnnformers(REMOTE_CODE_CHECK.format(families=families), hf_home)
    assert result.stdout.count("loaded") == len(FAMILIES)
