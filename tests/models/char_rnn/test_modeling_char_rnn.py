"""CharRNNConfig and CharRNNForCausalLM: conventions, padding, the recurrent-state cache, generation, bad inputs."""

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from rnnformers import CharRNNConfig, CharRNNForCausalLM, RecurrentStateCache


VOCAB = 30


def make_model(cell_type="gru", seed=0, **overrides) -> CharRNNForCausalLM:
    torch.manual_seed(seed)
    settings = dict(vocab_size=VOCAB, hidden_size=32, embedding_dim=8, cell_type=cell_type, pad_token_id=0)
    config = CharRNNConfig(**{**settings, **overrides})
    return CharRNNForCausalLM(config).eval()


def left_padded_batch(rows: list[torch.Tensor], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row):] = row
        attention_mask[i, width - len(row):] = 1
    return input_ids, attention_mask


# --- configuration -----------------------------------------------------------------------------------------------


def test_config_defaults_are_the_chapter_model():
    config = CharRNNConfig()
    assert (config.embedding_dim, config.hidden_size, config.num_layers, config.dropout, config.cell_type) == (
        10, 128, 2, 0.1, "gru")
    assert config.num_hidden_layers == 2  # the name generic transformers code looks for


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vocab_size", 0),
        ("embedding_dim", -1),
        ("hidden_size", 1.5),
        ("num_layers", 0),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("cell_type", "transformer"),
        ("pad_token_id", 999),
        ("reads_backward", "yes"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        CharRNNConfig(vocab_size=39, **{field: value}) if field != "vocab_size" else CharRNNConfig(vocab_size=value)


def test_config_rejects_tied_embeddings_of_different_sizes():
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        CharRNNConfig(tie_word_embeddings=True, embedding_dim=10, hidden_size=128)


def test_config_round_trip_and_auto_config(tmp_path):
    config = CharRNNConfig(vocab_size=65, cell_type="lstm", hidden_size=64)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, CharRNNConfig)
    assert (loaded.vocab_size, loaded.cell_type, loaded.hidden_size) == (65, "lstm", 64)


# --- forward conventions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_logits_are_batch_time_vocab_and_state_is_a_recurrent_cache(cell_type):
    model = make_model(cell_type)
    input_ids = torch.randint(1, VOCAB, (3, 7))
    out = model(input_ids)
    assert out.logits.shape == (3, 7, VOCAB)
    cache = out.past_key_values
    assert isinstance(cache, RecurrentStateCache) and len(cache) == 2 and cache.get_seq_length() == 7
    states = cache.to_tensors()
    assert len(states) == (2 if cell_type == "lstm" else 1)
    assert all(s.shape == (2, 3, 32) for s in states)  # nn.GRU / nn.LSTM's h_n layout
    assert torch.equal(cache.get_recurrent_state(1, 0), states[0][1])


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_outputs_equal_torch_rnn_and_the_cache_round_trips_through_plain_tensors(cell_type):
    model = make_model(cell_type)
    rnn = (torch.nn.LSTM if cell_type == "lstm" else torch.nn.GRU)(8, 32, num_layers=2, batch_first=True)
    # Same parameter names as nn.GRU / nn.LSTM: their state dict loads as is.
    rnn.load_state_dict(model.char_rnn.rnn.state_dict())
    input_ids = torch.randint(1, VOCAB, (3, 9))
    out = model(input_ids[:, :5], output_hidden_states=True)
    embeds = model.char_rnn.embed_tokens(input_ids)
    expected, expected_state = rnn(embeds[:, :5])
    assert len(out.hidden_states) == 2 + 1  # embeddings, then each layer
    torch.testing.assert_close(out.hidden_states[0], embeds[:, :5])
    torch.testing.assert_close(out.hidden_states[-1], expected)
    expected_state = expected_state if isinstance(expected_state, tuple) else (expected_state,)
    for mine, theirs in zip(out.past_key_values.to_tensors(), expected_state):
        torch.testing.assert_close(mine, theirs)
    # A cache built from nn.GRU's tensors continues exactly as the model's own.
    rebuilt = RecurrentStateCache.from_tensors(expected_state, seen_tokens=5)
    rest = model(input_ids[:, 5:], past_key_values=rebuilt)
    expected_rest, _ = rnn(embeds[:, 5:], expected_state if cell_type == "lstm" else expected_state[0])
    torch.testing.assert_close(model.lm_head(expected_rest), rest.logits)
    assert rest.past_key_values is rebuilt and rebuilt.get_seq_length() == 9


def test_detach_keeps_the_state_and_cuts_the_graph_for_truncated_bptt():
    model = make_model().train()
    windows = torch.randint(1, VOCAB, (3, 2, 6))
    assert model(windows[0], labels=windows[0]).past_key_values is None  # no state kept while training by default
    cache = None
    for window in windows:
        out = model(window, labels=window, past_key_values=cache, use_cache=True)
        out.loss.backward()  # would fail on the second window if the graph of the first were kept and freed
        before = out.past_key_values.to_tensors()[0].clone()
        cache = out.past_key_values.detach_()
        assert not any(s.requires_grad for s in cache.to_tensors())
        torch.testing.assert_close(cache.to_tensors()[0], before)


def test_labels_are_shifted_inside_and_minus_100_ignored():
    model = make_model()
    input_ids = torch.randint(1, VOCAB, (2, 9))
    out = model(input_ids, labels=input_ids)
    # Step t predicts token t+1.
    expected = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, VOCAB), input_ids[:, 1:].reshape(-1))
    torch.testing.assert_close(out.loss, expected)

    labels = input_ids.clone()
    labels[:, 5:] = -100
    masked = model(input_ids, labels=labels).loss
    expected = torch.nn.functional.cross_entropy(out.logits[:, :4].reshape(-1, VOCAB), input_ids[:, 1:5].reshape(-1))
    torch.testing.assert_close(masked, expected)


def test_tied_embeddings_share_one_tensor_and_survive_save(tmp_path):
    model = make_model(tie_word_embeddings=True, embedding_dim=32)
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    model.save_pretrained(tmp_path)
    loaded = CharRNNForCausalLM.from_pretrained(tmp_path)
    assert loaded.lm_head.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()
    torch.testing.assert_close(loaded.lm_head.weight, model.lm_head.weight)


# --- attention_mask: padding leaves the state untouched --------------------------------------------------------------


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_left_padded_batch_gives_each_prompt_its_own_logits(cell_type):
    model = make_model(cell_type)
    rows = [torch.randint(1, VOCAB, (n,)) for n in (9, 4, 1)]
    input_ids, attention_mask = left_padded_batch(rows)
    out = model(input_ids, attention_mask=attention_mask)
    for i, row in enumerate(rows):
        alone = model(row[None])
        torch.testing.assert_close(out.logits[i, -len(row):], alone.logits[0], atol=1e-5, rtol=1e-5)
        for batched_state, alone_state in zip(out.past_key_values.to_tensors(), alone.past_key_values.to_tensors()):
            torch.testing.assert_close(batched_state[:, i], alone_state[:, 0], atol=1e-5, rtol=1e-5)


def test_right_padding_keeps_the_state_of_the_last_real_token():
    model = make_model()
    row = torch.randint(1, VOCAB, (5,))
    input_ids = torch.cat([row, torch.zeros(3, dtype=torch.long)])[None]
    attention_mask = torch.tensor([[1] * 5 + [0] * 3])
    out = model(input_ids, attention_mask=attention_mask)
    alone = model(row[None])
    torch.testing.assert_close(out.past_key_values.to_tensors()[0], alone.past_key_values.to_tensors()[0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.logits[0, :5], alone.logits[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_an_all_padding_row_raises_in_forward_and_generate(cell_type):
    model = make_model(cell_type)
    input_ids = torch.randint(1, VOCAB, (2, 4))
    attention_mask = torch.tensor([[1, 1, 1, 1], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"rows \[1\] of `attention_mask` are all padding"):
        model(input_ids, attention_mask=attention_mask)
    with pytest.raises(ValueError, match="all padding"):
        model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=2, pad_token_id=0)


def test_padding_with_a_cache_keeps_the_state_of_that_row():
    model = make_model("lstm")
    input_ids = torch.randint(1, VOCAB, (2, 6))
    first = model(input_ids[:, :3])
    kept = [s.clone() for s in first.past_key_values.to_tensors()]
    out = model(input_ids[:, 3:], attention_mask=torch.tensor([[1, 1, 1], [0, 0, 0]]),
                past_key_values=first.past_key_values)
    for state, before in zip(out.past_key_values.to_tensors(), kept):
        torch.testing.assert_close(state[:, 1], before[:, 1])


# --- the recurrent state is the cache ------------------------------------------------------------------------------


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_one_token_with_state_equals_the_full_run(cell_type):
    model = make_model(cell_type)
    input_ids = torch.randint(1, VOCAB, (2, 12))
    full = model(input_ids).logits
    state = None
    for t in range(12):
        step = model(input_ids[:, t:t + 1], past_key_values=state)
        state = step.past_key_values
        torch.testing.assert_close(step.logits[:, 0], full[:, t], atol=1e-5, rtol=1e-5)


GENERATION_MODES = {
    "greedy": dict(do_sample=False),
    "sampling": dict(do_sample=True, temperature=0.8),
    "top_k": dict(do_sample=True, top_k=5),
    "top_p": dict(do_sample=True, top_p=0.8, temperature=1.3),
    "beam": dict(num_beams=4, do_sample=False, num_return_sequences=2),
    "beam_sample": dict(num_beams=3, do_sample=True),
}


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
@pytest.mark.parametrize("mode", list(GENERATION_MODES))
def test_generate_with_cache_equals_without(cell_type, mode):
    model = make_model(cell_type)
    rows = [torch.randint(1, VOCAB, (n,)) for n in (6, 3)]
    input_ids, attention_mask = left_padded_batch(rows)
    results = []
    for use_cache in (True, False):
        torch.manual_seed(123)
        results.append(model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=15,
                                      use_cache=use_cache, pad_token_id=0, **GENERATION_MODES[mode]))
    assert results[0].shape[1] == 6 + 15
    assert torch.equal(results[0], results[1])


@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_padded_batch_generates_what_each_prompt_generates_alone(mode):
    model = make_model()
    rows = [torch.randint(1, VOCAB, (n,)) for n in (7, 2)]
    input_ids, attention_mask = left_padded_batch(rows)
    kwargs = dict(max_new_tokens=12, pad_token_id=0, **{k: v for k, v in GENERATION_MODES[mode].items()
                                                          if k != "num_return_sequences"})
    batched = model.generate(input_ids, attention_mask=attention_mask, **kwargs)
    for i, row in enumerate(rows):
        alone = model.generate(row[None], **kwargs)
        assert torch.equal(batched[i, -(len(row) + 12):], alone[0])


def test_beam_search_reorders_the_state():
    state = (torch.arange(4.0)[None, :, None].expand(2, 4, 32).clone(), torch.zeros(2, 4, 32))
    cache = RecurrentStateCache.from_tensors(state)
    cache.reorder_cache(torch.tensor([3, 3, 0, 1]))
    h, c = cache.to_tensors()
    assert h[:, :, 0].tolist() == [[3.0, 3.0, 0.0, 1.0]] * 2 and c.shape == (2, 4, 32)


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
@pytest.mark.parametrize("mode", ["greedy", "sampling"])
def test_generation_continues_from_the_returned_cache_as_one_longer_call(cell_type, mode):
    model = make_model(cell_type)
    rows = [torch.randint(1, VOCAB, (n,)) for n in (5, 3)]
    input_ids, attention_mask = left_padded_batch(rows)
    kwargs = dict(pad_token_id=0, **GENERATION_MODES[mode])
    torch.manual_seed(7)
    first = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=4, return_dict_in_generate=True,
                           **kwargs)
    mask = torch.cat([attention_mask, torch.ones(2, 4, dtype=torch.long)], dim=1)
    continued = model.generate(first.sequences, attention_mask=mask, past_key_values=first.past_key_values,
                               max_new_tokens=5, **kwargs)
    torch.manual_seed(7)
    longer = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=9, **kwargs)
    if mode == "greedy":  # sampling draws differently over two calls; greedy must match exactly
        assert torch.equal(continued, longer)
    assert continued.shape == longer.shape and torch.equal(continued[:, : first.sequences.shape[1]], first.sequences)


@pytest.mark.parametrize("num_return_sequences", [1, 3])
def test_a_beam_search_cache_cannot_be_continued(num_return_sequences):
    # Its rows are the last running beams, not `sequences`: continuing would silently use other rows' states.
    model = make_model()
    input_ids = torch.randint(1, VOCAB, (2, 5))
    first = model.generate(input_ids, max_new_tokens=4, num_beams=3, num_return_sequences=num_return_sequences,
                           do_sample=False, pad_token_id=0, return_dict_in_generate=True)
    for num_beams in (3, 1):  # same row count as the cache after expansion (1 return sequence), or before it (3)
        with pytest.raises(ValueError, match="The cache cannot be continued: .*greedy or sampled"):
            model.generate(first.sequences, past_key_values=first.past_key_values, max_new_tokens=2,
                           num_beams=num_beams, do_sample=False, pad_token_id=0)


def test_generate_returns_hidden_states_of_every_step_and_layer():
    model = make_model(num_layers=3)
    out = model.generate(torch.randint(1, VOCAB, (2, 5)), max_new_tokens=4, do_sample=False, pad_token_id=0,
                         return_dict_in_generate=True, output_hidden_states=True)
    assert len(out.hidden_states) == 4
    assert all(len(step) == 3 + 1 for step in out.hidden_states)
    assert out.hidden_states[0][0].shape == (2, 5, 8) and out.hidden_states[1][-1].shape == (2, 1, 32)


def test_generate_forwards_model_kwargs_to_forward():
    model = make_model()
    seen = []
    hook = model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(sorted(kwargs)), with_kwargs=True)
    try:
        model.generate(torch.randint(1, VOCAB, (1, 4)), max_new_tokens=2, do_sample=False, pad_token_id=0,
                       output_hidden_states=True)
        inputs = model.prepare_inputs_for_generation(torch.randint(1, VOCAB, (1, 4)), my_flag=True)
    finally:
        hook.remove()
    assert all("output_hidden_states" in step for step in seen)
    assert inputs["my_flag"] is True


@pytest.mark.parametrize("num_beams", [0, -2])
def test_generate_rejects_num_beams_below_one(num_beams):
    with pytest.raises(ValueError, match="num_beams"):
        make_model().generate(torch.randint(1, VOCAB, (1, 4)), max_new_tokens=2, num_beams=num_beams, pad_token_id=0)


def test_assisted_decoding_is_refused_because_the_model_is_stateful():
    model = make_model()
    assert model._is_stateful
    with pytest.raises(ValueError, match="stateful"):
        model.generate(torch.randint(1, VOCAB, (1, 4)), max_new_tokens=2, pad_token_id=0, prompt_lookup_num_tokens=2)


def test_generate_feeds_one_token_per_step_after_the_prompt():
    model = make_model()
    seen_lengths = []
    hook = model.char_rnn.rnn.register_forward_hook(lambda module, args, output: seen_lengths.append(args[0].shape[1]))
    try:
        model.generate(torch.randint(1, VOCAB, (1, 10)), max_new_tokens=6, do_sample=False, pad_token_id=0)
    finally:
        hook.remove()
    assert seen_lengths == [10] + [1] * 5


# --- bad inputs ----------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors_naming_the_field():
    model = make_model()
    ids = torch.randint(1, VOCAB, (2, 5))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros((1, 0), dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.tensor([[1, VOCAB]]))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.tensor([[1, -2]]))
    with pytest.raises(ValueError, match="input_ids"):
        model(ids.float())
    with pytest.raises(ValueError, match="attention_mask"):
        model(ids, attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="labels"):
        model(ids, labels=ids[:, :3])
    with pytest.raises(ValueError, match="`cache` must be the `RecurrentStateCache`"):
        model(ids, past_key_values=(torch.zeros(1, 2, 32),))  # the older name is read, and checked, as `cache`
    with pytest.raises(ValueError, match=r"`cache` must hold 2 layers of 1 state tensor\(s\) shaped \(2, 32\)"):
        model(ids, cache=RecurrentStateCache.from_tensors((torch.zeros(2, 3, 32),)))  # batch 3, not 2
    with pytest.raises(ValueError, match=r"`cache` must hold 2 layers"):
        model(ids, cache=RecurrentStateCache.from_tensors((torch.zeros(3, 2, 32),)))  # 3 layers: another model size
    with pytest.raises(ValueError, match="`cache` or as `past_key_values` .*not both"):
        cache = RecurrentStateCache.from_tensors((torch.zeros(2, 2, 32),))
        model(ids, cache=cache, past_key_values=cache)
    with pytest.raises(ValueError, match="as `cache_params`, which this model does not read"):
        model(ids, cache_params=RecurrentStateCache.from_tensors((torch.zeros(2, 2, 32),)))
    with pytest.raises(ValueError, match="inputs_embeds"):
        model(inputs_embeds=torch.zeros(2, 5, 7))  # embedding_dim is 8
    with pytest.raises(ValueError, match="labels"):
        model(ids, labels=torch.full((2, 5), VOCAB))
    with pytest.raises(ValueError, match="labels"):
        model(ids, labels=torch.full((2, 5), -5))
    with pytest.raises(ValueError, match="labels"):
        model(ids, labels=ids.float())
    with pytest.raises(ValueError, match="input_ids"):
        model()
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(ids, max_new_tokens=0, pad_token_id=0)
    # The prompt's ids are checked (only the model's own samples, fed back with a cache, are not).
    with pytest.raises(ValueError, match=r"`input_ids` must be in \[0, 30\)"):
        model.generate(torch.tensor([[1, VOCAB]]), max_new_tokens=2, pad_token_id=0)
    with pytest.raises(ValueError, match=r"`input_ids` must be in \[0, 30\)"):  # a cache of one's own, not yet used
        model(torch.tensor([[1, VOCAB]]), past_key_values=RecurrentStateCache.from_tensors((torch.zeros(2, 1, 32),)))


def test_missing_or_corrupt_weights_fail_loudly(tmp_path):
    model = make_model()
    model.save_pretrained(tmp_path / "ok")
    assert isinstance(AutoModelForCausalLM.from_pretrained(tmp_path / "ok"), CharRNNForCausalLM)

    missing = tmp_path / "missing"
    model.save_pretrained(missing)
    (missing / "model.safetensors").unlink()
    with pytest.raises(OSError, match="model.safetensors|pytorch_model.bin"):
        AutoModelForCausalLM.from_pretrained(missing)

    corrupt = tmp_path / "corrupt"
    model.save_pretrained(corrupt)
    (corrupt / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(Exception, match="(?i)safetensor|header|deserializ|invalid"):
        AutoModelForCausalLM.from_pretrained(corrupt)


@pytest.mark.parametrize("field", ["output_dropout", "weight_dropout"])
def test_the_recipe_regularisers_act_in_training_only(field):
    torch.manual_seed(0)
    model = CharRNNForCausalLM(CharRNNConfig(vocab_size=20, cell_type="lstm", hidden_size=16, embedding_dim=8,
                                             dropout=0.0, **{field: 0.5}))
    ids = torch.randint(0, 20, (2, 7))
    model.train()
    assert not torch.allclose(model(ids).logits, model(ids).logits)  # a new mask each forward pass
    model(ids, labels=ids).loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    plain = CharRNNForCausalLM(CharRNNConfig(vocab_size=20, cell_type="lstm", hidden_size=16, embedding_dim=8,
                                             dropout=0.0))
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(ids).logits, plain.eval()(ids).logits)  # no effect at inference
    with pytest.raises(ValueError, match=f"`{field}` must be a number in"):
        CharRNNConfig(**{field: 1.0})
