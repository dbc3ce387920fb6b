"""The recurrent tagger: exact padding, the CRF against brute-force enumeration, Viterbi-consistent logits, the base
model and hidden states, reload equality, bad inputs, and the Trainer learning a toy tagging task."""

import itertools

import pytest
import torch
from transformers import AutoModel, AutoModelForTokenClassification, Trainer, TrainingArguments

from rnnformers import RNNTaggerConfig, RNNTaggerForTokenClassification, RNNTaggerModel
from rnnformers.models.rnn_tagger.modeling_rnn_tagger import LinearChainCRF, left_align


LABELS = ["DET", "NOUN", "VERB"]


def tiny_config(**overrides) -> RNNTaggerConfig:
    values = dict(vocab_size=30, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0, embedding_dropout=0.0,
                  id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    return RNNTaggerConfig(**{**values, **overrides})


def tiny_tagger(seed: int = 0, **overrides) -> RNNTaggerForTokenClassification:
    torch.manual_seed(seed)
    model = RNNTaggerForTokenClassification(tiny_config(**overrides)).eval()
    if model.crf is not None:  # a CRF with preferences, so that its decoding differs from the per-token argmax
        for parameter in model.crf.parameters():
            torch.nn.init.normal_(parameter, std=2.0)
    return model


@pytest.mark.parametrize("use_crf", [False, True])
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_a_sentence_gets_the_same_logits_alone_and_padded_on_either_side(use_crf, cell_type):
    model = tiny_tagger(use_crf=use_crf, cell_type=cell_type)
    sentence = torch.tensor([[5, 9, 2, 17, 4]])
    alone = model(sentence).logits[0]
    other = torch.tensor([3, 8, 11, 12, 13, 14, 15, 16])
    for side in ("right", "left"):
        batch = torch.zeros(2, 8, dtype=torch.long)
        mask = torch.zeros(2, 8, dtype=torch.long)
        positions = slice(0, 5) if side == "right" else slice(3, 8)
        batch[0, positions], mask[0, positions] = sentence[0], 1
        batch[1], mask[1] = other, 1
        logits = model(batch, attention_mask=mask).logits
        torch.testing.assert_close(logits[0, positions], alone, rtol=1e-5, atol=1e-5)
        assert logits[0][mask[0] == 0].abs().max() == 0 or not use_crf  # the CRF's logits are 0 at padding
        # The padded batch's labels at padding are ignored, whatever they are.
        labels = torch.randint(0, 3, (2, 8))
        loss_a = model(batch, attention_mask=mask, labels=labels).loss
        loss_b = model(batch, attention_mask=mask, labels=labels.masked_fill(mask == 0, 1)).loss
        torch.testing.assert_close(loss_a, loss_b)


def test_hidden_states_per_layer_and_the_base_model(tmp_path):
    model = tiny_tagger(num_layers=3)
    ids, mask = torch.tensor([[4, 5, 6, 0], [7, 8, 9, 10]]), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    out = model(ids, attention_mask=mask, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_layers + 1
    assert out.hidden_states[0].shape == (2, 4, 8) and out.hidden_states[-1].shape == (2, 4, 12)
    assert model.base_model is model.rnn_tagger and isinstance(model.base_model, RNNTaggerModel)
    base_out = model.base_model(ids, attention_mask=mask)
    torch.testing.assert_close(base_out.last_hidden_state, out.hidden_states[-1])
    assert base_out.last_hidden_state[0, 3].abs().max() == 0  # padding

    model.save_pretrained(tmp_path)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert type(base) is RNNTaggerModel
    torch.testing.assert_close(base(ids, attention_mask=mask).last_hidden_state, base_out.last_hidden_state)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded(ids, attention_mask=mask).logits, out.logits)
    # A CRF head on the saved backbone: the backbone is kept, the CRF is new.
    with_crf = AutoModelForTokenClassification.from_pretrained(tmp_path, use_crf=True).eval()
    torch.testing.assert_close(with_crf.base_model(ids, attention_mask=mask).last_hidden_state,
                               base_out.last_hidden_state)


def test_character_features_are_exact_under_padding_and_saved_with_the_weights(tmp_path):
    model = tiny_tagger(char_features=5, max_token_chars=6)
    strings = ["<pad>", "<unk>"] + [f"w{i}" if i % 2 else f"##Ab{i}" for i in range(2, 30)]
    model.base_model.set_token_strings(strings)
    assert model.base_model.char_encoder.token_chars[3].tolist()[:3] == [1 + ord("w"), 1 + ord("3"), 0]
    ids, mask = torch.tensor([[0, 0, 5, 6, 7], [8, 9, 10, 11, 12]]), torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    logits = model(ids, attention_mask=mask).logits
    torch.testing.assert_close(logits[0, 2:], model(ids[:1, 2:]).logits[0], rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded.base_model.char_encoder.token_chars, model.base_model.char_encoder.token_chars)
    torch.testing.assert_close(reloaded(ids, attention_mask=mask).logits, logits)
    # Characters change the logits: the same ids with other strings give other scores.
    model.base_model.set_token_strings(strings[:2] + [s.upper() + "x" for s in strings[2:]])
    assert not torch.allclose(model(ids, attention_mask=mask).logits, logits)
    with pytest.raises(ValueError, match="token strings"):
        model.base_model.set_token_strings(strings[:5])
    with pytest.raises(ValueError, match="no character features"):
        tiny_tagger().base_model.set_token_strings(strings)


def test_non_crf_loss_is_the_cross_entropy_of_the_labelled_tokens():
    model = tiny_tagger()
    ids = torch.tensor([[4, 5, 6, 7]])
    labels = torch.tensor([[1, -100, 2, -100]])
    out = model(ids, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits[0, [0, 2]], torch.tensor([1, 2]))
    torch.testing.assert_close(out.loss, expected)


@pytest.mark.parametrize("use_crf", [False, True])
def test_with_the_trainers_count_either_loss_is_its_sum_over_that_count(use_crf):
    # Under gradient accumulation or several processes the Trainer passes the labelled-token count of the whole
    # optimizer step (`num_items_in_batch`) and does not rescale the loss itself.
    model = tiny_tagger(use_crf=use_crf)
    ids, labels = torch.tensor([[4, 5, 6, 7]]), torch.tensor([[1, -100, 2, 0]])
    mean = model(ids, labels=labels).loss
    torch.testing.assert_close(model(ids, labels=labels, num_items_in_batch=torch.tensor(9)).loss, mean * 3 / 9)


def all_paths(num_labels, length):
    return itertools.product(range(num_labels), repeat=length)


def path_score(crf, emissions, path):
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    score = score + sum(emissions[t, label] for t, label in enumerate(path))
    return score + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))


def random_crf(num_labels=3, seed=0):
    torch.manual_seed(seed)
    crf = LinearChainCRF(num_labels)
    for parameter in crf.parameters():
        torch.nn.init.normal_(parameter)
    return crf


def test_crf_negative_log_likelihood_matches_brute_force_enumeration():
    crf = random_crf()
    emissions = torch.randn(3, 4, 3)
    lengths = [4, 2, 1]
    step_mask = torch.arange(4).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    # Row 0: all labelled; row 1: its second token unlabelled (-100, summed over); row 2: one token.
    labels = torch.tensor([[0, 2, 1, 1], [1, -100, -100, -100], [2, -100, -100, -100]])
    nll = crf.neg_log_likelihood(emissions, step_mask, labels)
    for row, length in enumerate(lengths):
        scores = {p: path_score(crf, emissions[row], p) for p in all_paths(3, length)}
        log_z = torch.logsumexp(torch.stack(list(scores.values())), 0)
        observed = [(t, int(labels[row, t])) for t in range(length) if labels[row, t] != -100]
        agreeing = [s for p, s in scores.items() if all(p[t] == y for t, y in observed)]
        expected = log_z - torch.logsumexp(torch.stack(agreeing), 0)
        torch.testing.assert_close(nll[row], expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(crf.log_partition(emissions, step_mask)[row], log_z, rtol=1e-5, atol=1e-5)


def test_viterbi_and_max_marginals_match_the_brute_force_argmax():
    crf = random_crf(num_labels=4, seed=1)
    emissions = torch.randn(3, 5, 4)
    lengths = [5, 3, 1]
    step_mask = torch.arange(5).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    paths = crf.decode(emissions, step_mask)
    max_marginals = crf.max_marginals(emissions, step_mask)
    for row, length in enumerate(lengths):
        scores = {p: path_score(crf, emissions[row], p) for p in all_paths(4, length)}
        best = max(scores, key=lambda p: scores[p])
        assert paths[row, :length].tolist() == list(best)
        assert max_marginals[row, :length].argmax(-1).tolist() == list(best)
        for t in range(length):
            for label in range(4):
                through = max(s for p, s in scores.items() if p[t] == label)
                torch.testing.assert_close(max_marginals[row, t, label], through - scores[best], rtol=1e-5, atol=1e-5)


def test_crf_tagger_logits_argmax_is_the_viterbi_path_in_a_padded_batch():
    model = tiny_tagger(use_crf=True)
    ids = torch.tensor([[0, 0, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14], [15, 16, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    paths = model.decode(ids, attention_mask=mask)
    logits = model(ids, attention_mask=mask).logits
    for row in range(3):
        assert logits[row][mask[row].bool()].argmax(-1).tolist() == paths[row]
    # The CRF changes the decision somewhere (its transitions are strong), i.e. this is not the per-token argmax.
    emissions, _ = model.emissions(ids, attention_mask=mask)
    assert any(emissions[row][mask[row].bool()].argmax(-1).tolist() != paths[row] for row in range(3))


def test_sentences_longer_than_any_seen_in_training_are_tagged_exactly():
    # A recurrent tagger has no position limit: a 700-token sentence is tagged, and padding still changes nothing.
    model = tiny_tagger(use_crf=True)
    long_sentence = torch.randint(2, 30, (1, 700))
    alone = model(long_sentence).logits
    padded = torch.cat([torch.zeros(1, 20, dtype=torch.long), long_sentence], dim=1)
    logits = model(padded, attention_mask=(torch.arange(720) >= 20).long().unsqueeze(0)).logits
    torch.testing.assert_close(logits[:, 20:], alone, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("use_crf", [False, True])
def test_bad_inputs_raise_clear_errors(use_crf):
    model = tiny_tagger(use_crf=use_crf)
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))  # an empty sentence
    with pytest.raises(ValueError, match="all padding"):
        model(torch.tensor([[4, 5], [0, 0]]), attention_mask=torch.tensor([[1, 1], [0, 0]]))
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[4, 30]]))
    with pytest.raises(ValueError, match="num_labels"):
        model(torch.tensor([[4, 5]]), labels=torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="labels"):
        model(torch.tensor([[4, 5]]), labels=torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="token_dropout"):
        tiny_config(token_dropout=0.1, unk_token_id=None)
    with pytest.raises(ValueError, match="cell_type"):
        tiny_config(cell_type="rnn")


def test_left_align_puts_the_real_tokens_first_in_order():
    order, step_mask = left_align(torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1]]))
    assert order[0, :2].tolist() == [1, 2] and step_mask.sum(1).tolist() == [2, 4]


def toy_tagging_data(n: int, seed: int):
    """Tokens 2..9; a token's tag is decided by the *previous* token (0: start of sentence or a small previous token,
    1: a large previous token) plus its own parity, so the task needs context: 4 tags."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        length = int(torch.randint(3, 9, (), generator=generator))
        ids = torch.randint(2, 10, (length,), generator=generator).tolist()
        labels = [2 * int(i > 0 and ids[i - 1] >= 6) + ids[i] % 2 for i in range(length)]
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "labels": labels})
    return rows


@pytest.mark.parametrize("use_crf", [False, True])
def test_trainer_learns_a_toy_tagging_task(tmp_path, use_crf):
    from transformers import DataCollatorForTokenClassification, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<pad>": 0, "<unk>": 1}, unk_token="<unk>")), pad_token="<pad>"
    )
    labels = ["A", "B", "C", "D"]
    torch.manual_seed(0)
    config = RNNTaggerConfig(vocab_size=10, embedding_dim=16, hidden_size=16, num_layers=1, dropout=0.0,
                             embedding_dropout=0.0, use_crf=use_crf, id2label=dict(enumerate(labels)),
                             label2id={label: i for i, label in enumerate(labels)})
    model = RNNTaggerForTokenClassification(config)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=16, learning_rate=2e-2,
                             num_train_epochs=4, use_cpu=True, report_to="none", save_strategy="no",
                             logging_strategy="no", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=toy_tagging_data(400, seed=0),
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    trainer.train()
    test = toy_tagging_data(50, seed=1)
    model.eval()
    correct = total = 0
    for row in test:
        predicted = model.decode(torch.tensor([row["input_ids"]]))[0]
        correct += sum(p == y for p, y in zip(predicted, row["labels"]))
        total += len(row["labels"])
    assert correct / total > 0.97


def char_lm_tagger(seed: int = 0, cell_type: str = "lstm"):
    """A tagger with contextual character features from two small random character LMs (characters: <pad>, <unk>,
    space, a, b, c, d), and those two LMs."""
    from rnnformers import CharRNNConfig, CharRNNForCausalLM

    torch.manual_seed(seed)
    lm_kwargs = dict(vocab_size=7, embedding_dim=4, hidden_size=5, num_layers=2, cell_type=cell_type, dropout=0.0)
    forward_lm = CharRNNForCausalLM(CharRNNConfig(**lm_kwargs)).eval()
    backward_lm = CharRNNForCausalLM(CharRNNConfig(reads_backward=True, **lm_kwargs)).eval()
    model = tiny_tagger(seed, char_lm_hidden_size=5, char_lm_vocab_size=7, char_lm_embedding_dim=4,
                        char_lm_num_layers=2, char_lm_cell_type=cell_type, max_token_lm_chars=3)
    # Token texts: 0 padding (none), 1 unknown (a space), then words (" ab", " dac"...) and continuations ("c", "db").
    generator = torch.Generator().manual_seed(seed)
    texts = [[], [2]] + [
        ([2] if token_id % 3 else []) + torch.randint(3, 7, (1 + token_id % 2,), generator=generator).tolist()
        for token_id in range(2, 30)
    ]
    model.base_model.set_char_language_models(forward_lm.base_model, backward_lm.base_model, texts)
    return model, forward_lm, backward_lm, texts


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_contextual_char_features_are_the_char_language_models_outputs_at_each_token(cell_type):
    # Flair's features, checked against the char-RNN itself: the sentence's characters rebuilt from its tokens, the
    # forward LM's top-layer output at each token's last character, the backward LM's (reading the text reversed)
    # at its first.
    model, forward_lm, backward_lm, texts = char_lm_tagger(cell_type=cell_type)
    ids = torch.tensor([[4, 3, 5, 7, 0, 11]])  # a special token (0: no characters) inside
    text, spans = [], []
    for token_id in ids[0].tolist():
        spans.append((len(text), len(text) + len(texts[token_id]) - 1))
        text += texts[token_id]
    with torch.no_grad():
        forward = forward_lm(torch.tensor([text]), output_hidden_states=True).hidden_states[-1][0]
        backward = backward_lm(torch.tensor([text[::-1]]), output_hidden_states=True).hidden_states[-1][0].flip(0)
    features = model.base_model.contextual_chars(ids, torch.ones_like(ids))[0]
    for position, (start, end) in enumerate(spans):
        if end < start:  # no characters
            assert features[position].abs().sum() == 0
        else:
            torch.testing.assert_close(features[position], torch.cat([forward[end], backward[start]]))
    # Exact under padding on either side, beside a longer sentence; the features reach the logits.
    batch = torch.tensor([[0, 0, 4, 3, 5, 7, 0, 11], [9, 9, 8, 2, 6, 12, 13, 14]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]])
    torch.testing.assert_close(model.base_model.contextual_chars(batch, mask)[0, 2:], features)
    logits = model(batch, attention_mask=mask).logits
    torch.testing.assert_close(logits[0, 2:], model(ids).logits[0], rtol=1e-5, atol=1e-5)
    right = torch.tensor([[4, 3, 5, 7, 0, 11, 0, 0]]), torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]])
    torch.testing.assert_close(model(right[0], attention_mask=right[1]).logits[0, :6], model(ids).logits[0],
                               rtol=1e-5, atol=1e-5)


def test_contextual_char_features_are_saved_frozen_and_checked(tmp_path):
    model, forward_lm, backward_lm, texts = char_lm_tagger()
    ids = torch.tensor([[4, 3, 5, 7]])
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded(ids).logits, model(ids).logits)
    # Frozen: training the tagger gives the language models no gradient.
    model.train()
    model(ids, labels=torch.tensor([[0, 1, 2, 1]])).loss.backward()
    assert all(p.grad is None for p in model.base_model.contextual_chars.parameters())
    assert model.base_model.layers[0].layers[0][0].weight_ih_l0.grad is not None
    # Bad input: swapped directions, another shape, texts of another vocabulary, a model without the features.
    base = model.base_model
    with pytest.raises(ValueError, match="`forward_lm` must not read backwards"):
        base.set_char_language_models(backward_lm.base_model, backward_lm.base_model, texts)
    from rnnformers import CharRNNConfig, CharRNNForCausalLM

    other = CharRNNForCausalLM(CharRNNConfig(vocab_size=7, embedding_dim=4, hidden_size=6, num_layers=2,
                                             cell_type="lstm"))
    with pytest.raises(ValueError, match="`forward_lm` has .*'hidden_size': 6"):
        base.set_char_language_models(other.base_model, backward_lm.base_model, texts)
    with pytest.raises(ValueError, match=r"character ids must be in \[1, 7\)"):
        base.set_char_language_models(forward_lm.base_model, backward_lm.base_model, [[9]] * 30)
    with pytest.raises(ValueError, match="expected 30 token texts"):
        base.set_char_language_models(forward_lm.base_model, backward_lm.base_model, texts[:3])
    with pytest.raises(ValueError, match="no contextual character features"):
        tiny_tagger().base_model.set_char_language_models(forward_lm.base_model, backward_lm.base_model, texts)
    with pytest.raises(ValueError, match="char_lm_vocab_size"):
        tiny_config(char_lm_hidden_size=5)


def test_contextual_char_features_compile_and_export_with_real_token_texts():
    # The conformance suite's variant has empty token texts; here every token has characters, so the traced graph
    # (which reads all `tokens x max_token_lm_chars` columns instead of the longest text) is checked on real features.
    model, *_ = char_lm_tagger()
    ids = torch.tensor([[0, 0, 4, 3, 5, 7, 0, 11], [9, 9, 8, 2, 6, 12, 13, 14]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]])
    expected = model(ids, attention_mask=mask).logits
    exported = torch.export.export(model, (), {"input_ids": ids, "attention_mask": mask})
    torch.testing.assert_close(exported.module()(input_ids=ids, attention_mask=mask).logits, expected)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    torch.testing.assert_close(compiled(ids, attention_mask=mask).logits, expected, atol=1e-5, rtol=1e-5)
    assert sum(p.requires_grad for p in model.base_model.contextual_chars.parameters()) == 0


def test_resizing_the_token_embeddings_resizes_the_character_tables(tmp_path):
    model = tiny_tagger(char_features=5, max_token_chars=6)
    strings = ["<pad>", "<unk>"] + [f"w{i}" for i in range(2, 30)]
    model.base_model.set_token_strings(strings)
    ids = torch.tensor([[4, 3, 5, 7]])
    before = model(ids).logits
    model.resize_token_embeddings(33)
    assert model.base_model.char_encoder.token_chars.shape == (33, 6) and model.config.vocab_size == 33
    torch.testing.assert_close(model(ids).logits, before)  # the old tokens keep their characters
    model.base_model.set_token_strings(strings + ["new", "newer", "Newest"])
    new_ids = torch.tensor([[4, 31, 32, 30]])
    logits = model(new_ids).logits
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded(new_ids).logits, logits)
    model.resize_token_embeddings(20)
    assert model.base_model.char_encoder.token_chars.shape == (20, 6)
    torch.testing.assert_close(model.base_model.char_encoder.token_chars[:20],
                               reloaded.base_model.char_encoder.token_chars[:20])
    # The contextual features' table too: the language models' texts of all 32 tokens are accepted after a resize.
    model, forward_lm, backward_lm, texts = char_lm_tagger()
    before = model(ids).logits
    model.resize_token_embeddings(32)
    assert model.base_model.contextual_chars.token_lm_chars.shape == (32, 3)
    torch.testing.assert_close(model(ids).logits, before)
    model.base_model.set_char_language_models(forward_lm.base_model, backward_lm.base_model, texts + [[2, 3], [4]])
    assert model.base_model.contextual_chars.token_lm_chars[30:, :2].tolist() == [[2, 3], [4, 0]]
