"""Seq2SeqGRUAttention: configuration errors, label shifting, padding, attention masking, the decoder-state cache in
generate(), saving with tied embeddings, and the Trainer learning a task that needs attention (reversing words)."""

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSeq2SeqLM, DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

from rnnformers import RecurrentStateCache, Seq2SeqGRUAttention, Seq2SeqGRUAttentionConfig
from rnnformers.models.seq2seq_gru_attention.modeling_seq2seq_gru_attention import shift_tokens_right
from rnnformers.tokenization import train_subword_tokenizer


PAD, BOS, EOS = 0, 2, 3
ATTENTION_TYPES = ["dot", "general", "concat"]


def tiny_model(attention_type="dot", bidirectional_encoder=False, tie_word_embeddings=False, seed=0, **kwargs):
    torch.manual_seed(seed)
    config = Seq2SeqGRUAttentionConfig(
        vocab_size=40,
        embedding_dim=16,
        hidden_size=16,
        num_layers=2,
        attention_type=attention_type,
        bidirectional_encoder=bidirectional_encoder,
        tie_word_embeddings=tie_word_embeddings,
        **kwargs,
    )
    return Seq2SeqGRUAttention(config).eval()


def sources(seed=1):
    """Three sources `<s> … </s>` of lengths 7, 5 (left-padded) and 4 (right-padded), with their attention mask."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(4, 40, (3, 7), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = BOS, EOS
    mask = torch.ones_like(input_ids)
    mask[1, :2] = 0
    input_ids[1, :2] = PAD
    input_ids[2, 4:] = PAD
    input_ids[2, 3] = EOS
    mask[2, 4:] = 0
    return input_ids, mask


# --- configuration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"attention_type": "luong"}, "attention_type"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_layers": 1.5}, "num_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"bidirectional_encoder": "yes"}, "bidirectional_encoder"),
        ({"vocab_size": 10, "eos_token_id": 10}, "eos_token_id"),
        ({"is_encoder_decoder": False}, "is_encoder_decoder"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        Seq2SeqGRUAttentionConfig(**kwargs)


def test_config_defaults_are_the_chapter_model_and_round_trip(tmp_path):
    config = Seq2SeqGRUAttentionConfig()
    assert (config.vocab_size, config.embedding_dim, config.hidden_size, config.num_layers) == (10_000, 512, 512, 2)
    assert config.attention_type == "dot" and config.is_encoder_decoder
    assert config.decoder_start_token_id == config.bos_token_id == BOS
    config.save_pretrained(tmp_path)
    assert Seq2SeqGRUAttentionConfig.from_pretrained(tmp_path).to_dict() == config.to_dict()


# --- labels, loss, outputs -----------------------------------------------------------------------------------------


def test_labels_are_shifted_right_behind_the_start_token_and_minus_100_is_ignored():
    labels = torch.tensor([[11, 12, 13, EOS], [21, EOS, -100, -100]])
    assert shift_tokens_right(labels, PAD, BOS).tolist() == [[BOS, 11, 12, 13], [BOS, 21, EOS, PAD]]

    model = tiny_model()
    input_ids, mask = sources()
    input_ids, mask = input_ids[:2], mask[:2]
    out = model(input_ids=input_ids, attention_mask=mask, labels=labels)
    manual = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=shift_tokens_right(labels, PAD, BOS))
    assert torch.equal(out.logits, manual.logits)
    kept = labels != -100
    expected = torch.nn.functional.cross_entropy(manual.logits[kept], labels[kept])
    torch.testing.assert_close(out.loss, expected)
    # What the ignored positions hold does not matter.
    changed = labels.masked_fill(~kept, 7)
    changed_loss = model(input_ids=input_ids, attention_mask=mask, labels=changed).loss
    assert not torch.isclose(changed_loss, out.loss)


def test_output_shapes_and_attention_weights(tmp_path):
    model = tiny_model("general")
    input_ids, mask = sources()
    out = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 5), BOS),
                output_attentions=True, output_hidden_states=True)
    assert out.logits.shape == (3, 5, 40)
    (decoder_state,) = out.past_key_values.to_tensors()
    assert decoder_state.shape == (2, 3, 16) and out.past_key_values.get_seq_length() == 5
    (weights,) = out.cross_attentions
    assert weights.shape == (3, 1, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 1, 5))
    assert out.encoder_last_hidden_state.shape == (3, 7, 16)
    assert len(out.encoder_hidden_states) == len(out.decoder_hidden_states) == 2 + 1  # embeddings, then each layer


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_padding_gets_exactly_zero_attention_and_zero_encoder_output(attention_type):
    model = tiny_model(attention_type, bidirectional_encoder=True)
    input_ids, mask = sources()
    out = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 4), BOS),
                output_attentions=True)
    pads = ~mask.bool()
    weights = out.cross_attentions[0][:, 0]  # [batch, target, source]
    assert torch.all(weights.masked_select(pads.unsqueeze(1).expand_as(weights)) == 0)
    assert torch.all(weights.masked_select(~pads.unsqueeze(1).expand_as(weights)) > 0)
    assert torch.all(out.encoder_last_hidden_state[pads] == 0)


@pytest.mark.parametrize("bidirectional_encoder", [False, True])
def test_a_padded_batch_gives_each_source_its_own_logits(bidirectional_encoder):
    model = tiny_model("concat", bidirectional_encoder=bidirectional_encoder)
    input_ids, mask = sources()
    decoder_input_ids = torch.randint(4, 40, (3, 6), generator=torch.Generator().manual_seed(3))
    batched = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids).logits
    for row in range(3):
        alone = model(input_ids=input_ids[row : row + 1, mask[row].bool()],
                      decoder_input_ids=decoder_input_ids[row : row + 1]).logits
        torch.testing.assert_close(batched[row : row + 1], alone, atol=1e-5, rtol=1e-5)


# --- the decoder state is the generation cache ---------------------------------------------------------------------


def logits_step_by_step(model, input_ids, mask, decoder_input_ids):
    """The logits of `decoder_input_ids` fed one token at a time, the encoder run once and each step continuing from
    the returned cache (as `generate()` does), and the cache after the last step. Also used by the ensemble's tests."""
    encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=mask)
    past, steps = None, []
    for t in range(decoder_input_ids.shape[1]):
        out = model(encoder_outputs=encoder_outputs, attention_mask=mask,
                    decoder_input_ids=decoder_input_ids[:, t : t + 1], past_key_values=past)
        past = out.past_key_values
        steps.append(out.logits)
    return torch.cat(steps, dim=1), past


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_stepping_with_the_cached_state_gives_the_full_forward_logits(attention_type):
    model = tiny_model(attention_type)
    input_ids, mask = sources()
    decoder_input_ids = torch.randint(4, 40, (3, 5), generator=torch.Generator().manual_seed(4))
    full = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids).logits
    stepped, _ = logits_step_by_step(model, input_ids, mask, decoder_input_ids)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
@pytest.mark.parametrize(
    "generate_kwargs",
    [{}, {"num_beams": 4}, {"num_beams": 3, "num_return_sequences": 2}, {"do_sample": True, "top_k": 10}],
    ids=["greedy", "beam", "beam-3-return-2", "sampling"],
)
def test_generate_with_the_cache_equals_generate_without_it(attention_type, generate_kwargs):
    model = tiny_model(attention_type, bidirectional_encoder=attention_type == "concat")
    input_ids, mask = sources()
    results = []
    for use_cache in (True, False):
        torch.manual_seed(5)
        results.append(model.generate(input_ids, attention_mask=mask, max_new_tokens=12, use_cache=use_cache,
                                      **generate_kwargs))
    assert torch.equal(results[0], results[1])
    assert results[0].shape[1] > 2


def test_beam_search_of_a_padded_batch_equals_each_source_alone():
    model = tiny_model("dot")
    input_ids, mask = sources()
    batched = model.generate(input_ids, attention_mask=mask, num_beams=4, max_new_tokens=12)
    for row in range(3):
        alone = model.generate(input_ids[row : row + 1, mask[row].bool()], num_beams=4, max_new_tokens=12)[0]
        assert batched[row, : len(alone)].tolist() == alone.tolist()
        assert torch.all(batched[row, len(alone) :] == PAD)


def test_generate_runs_the_encoder_once():
    model = tiny_model()
    input_ids, mask = sources()
    calls = []
    handle = model.get_encoder().register_forward_hook(lambda *args: calls.append(1))
    model.generate(input_ids, attention_mask=mask, num_beams=3, max_new_tokens=10)
    handle.remove()
    assert len(calls) == 1


# --- bad inputs ----------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    model = tiny_model()
    input_ids, mask = sources()
    with pytest.raises(ValueError, match="empty"):
        model.generate(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="all padding"):
        model(input_ids=input_ids, attention_mask=torch.zeros_like(mask), labels=input_ids)
    with pytest.raises(ValueError, match=r"\[0, 40\)"):
        model(input_ids=input_ids + 40, labels=input_ids)
    with pytest.raises(ValueError, match="`labels` or `decoder_input_ids`"):
        model(input_ids=input_ids)
    with pytest.raises(ValueError, match="`cache` must be the `RecurrentStateCache`"):
        model(input_ids=input_ids, decoder_input_ids=input_ids[:, :1], past_key_values=(torch.zeros(3, 1, 16),))
    with pytest.raises(ValueError, match="num_beams"):
        model.generate(input_ids, attention_mask=mask, num_beams=0)
    # The decoder prompt's ids are checked (only the model's own samples, fed back with a cache, are not).
    with pytest.raises(ValueError, match=r"`decoder_input_ids` must be in \[0, 40\)"):
        model.generate(input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 1), 40), max_new_tokens=2)
    with pytest.raises(ValueError, match=r"`decoder_input_ids` must be in \[0, 40\)"):
        model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 1), -1))


# --- saving --------------------------------------------------------------------------------------------------------


def test_tied_embeddings_share_one_tensor_and_survive_a_save(tmp_path):
    import rnnformers  # noqa: F401  (registers the Auto classes)

    model = tiny_model("general", tie_word_embeddings=True)
    assert model.lm_head.weight is model.get_input_embeddings().weight
    input_ids, mask = sources()
    expected = model.generate(input_ids, attention_mask=mask, num_beams=2, max_new_tokens=8)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "modeling_seq2seq_gru_attention.py").is_file()
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, Seq2SeqGRUAttention)
    assert loaded.lm_head.weight is loaded.get_input_embeddings().weight
    assert torch.equal(loaded.generate(input_ids, attention_mask=mask, num_beams=2, max_new_tokens=8), expected)


# --- the Trainer learns a task that needs attention ----------------------------------------------------------------


LETTERS = "abcdefghijklmn"


def reversal_pairs(count: int, seed: int) -> Dataset:
    generator = torch.Generator().manual_seed(seed)
    rows = {"source": [], "target": []}
    for _ in range(count):
        length = int(torch.randint(3, 8, (1,), generator=generator))
        words = [LETTERS[i] for i in torch.randint(0, len(LETTERS), (length,), generator=generator).tolist()]
        rows["source"].append(" ".join(words))
        rows["target"].append(" ".join(reversed(words)))
    return Dataset.from_dict(rows)


@pytest.fixture(scope="module")
def reversal_model(tmp_path_factory):
    """A tiny model trained with Seq2SeqTrainer to reverse sequences of letters (each output word must be fetched
    from the other end of the source: a job for attention)."""
    tokenizer = train_subword_tokenizer([" ".join(LETTERS)] * 5, algorithm="wordpiece", vocab_size=30,
                                        add_bos_eos=True, model_max_length=16)

    def tokenize(batch):
        features = tokenizer(batch["source"])
        targets = tokenizer(batch["target"], add_special_tokens=False)["input_ids"]
        features["labels"] = [ids + [tokenizer.eos_token_id] for ids in targets]
        return features

    train = reversal_pairs(3000, seed=0).map(tokenize, batched=True, remove_columns=["source", "target"])
    torch.manual_seed(0)
    config = Seq2SeqGRUAttentionConfig(
        vocab_size=len(tokenizer), embedding_dim=32, hidden_size=64, num_layers=1, dropout=0.0,
        attention_type="general", pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, unk_token_id=tokenizer.unk_token_id,
    )
    model = Seq2SeqGRUAttention(config)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("reversal")), per_device_train_batch_size=64, learning_rate=1e-2,
        num_train_epochs=5, warmup_steps=20, logging_steps=50, save_strategy="no", report_to="none", seed=0,
        disable_tqdm=True, dataloader_pin_memory=False,
    )
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer,
                             data_collator=DataCollatorForSeq2Seq(tokenizer, model=model))
    trainer.train()
    return trainer.model.eval(), tokenizer


@pytest.mark.slow
def test_trainer_learns_to_reverse_unseen_sequences_by_attending_to_the_mirror_position(reversal_model):
    model, tokenizer = reversal_model
    test = reversal_pairs(200, seed=1)
    texts, targets = list(test["source"]), list(test["target"])
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    output = model.generate(**batch, num_beams=3, max_new_tokens=12)
    predictions = [text.strip() for text in tokenizer.batch_decode(output, skip_special_tokens=True)]
    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)
    assert exact >= 0.9, list(zip(predictions, targets))[:5]

    # The k-th output word mostly attends to the k-th source word from the end.
    source = tokenizer("a b c d e f", return_tensors="pt")
    labels = tokenizer("f e d c b a", add_special_tokens=False, return_tensors="pt")["input_ids"]
    weights = model(**source, labels=labels, output_attentions=True).cross_attentions[0][0, 0]  # [target, source]
    # Source positions: <s>=0, a=1 … f=6; the k-th target word (k = 0..5) is source word 6 - k.
    assert weights.argmax(dim=-1).tolist() == [6, 5, 4, 3, 2, 1]


def test_bad_labels_embeddings_and_precomputed_empty_sources_raise_errors_naming_them():
    model = tiny_model()
    input_ids, mask = sources()
    labels = torch.randint(4, 40, (3, 5))
    with pytest.raises(ValueError, match="`labels`"):
        model(input_ids=input_ids, attention_mask=mask, labels=labels + 40)  # out of the vocabulary
    with pytest.raises(ValueError, match="`labels`"):
        model(input_ids=input_ids, attention_mask=mask, labels=torch.full((3, 5), -7))
    with pytest.raises(ValueError, match="`labels`"):
        model(input_ids=input_ids, attention_mask=mask, labels=labels.float())
    with pytest.raises(ValueError, match="`labels`"):
        model(input_ids=input_ids, attention_mask=mask, labels=labels[0])  # 1-D
    with pytest.raises(ValueError, match="inputs_embeds"):
        model(inputs_embeds=torch.zeros(3, 7, 5), attention_mask=mask, labels=labels)
    with pytest.raises(ValueError, match="decoder_inputs_embeds"):
        model(input_ids=input_ids, attention_mask=mask, decoder_inputs_embeds=torch.zeros(3, 5, 5))
    # Precomputed encoder outputs with an all-padding source row: an error, not NaN logits.
    encoder_outputs = model.get_encoder()(input_ids=input_ids, attention_mask=mask)
    empty = mask.clone()
    empty[1] = 0
    with pytest.raises(ValueError, match=r"rows \[1\] of `attention_mask` are all padding"):
        model(encoder_outputs=encoder_outputs, attention_mask=empty, labels=labels)


def test_base_model_and_bart_like_layout():
    model = tiny_model(bidirectional_encoder=True)
    assert model.base_model is model.model and model.get_encoder() is model.model.encoder
    assert model.get_decoder() is model.model.decoder
    input_ids, mask = sources()
    out = model.model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 4), BOS))
    assert out.last_hidden_state.shape == (3, 4, 2 * 16)  # [attention vector; decoder output]
    # The LM reads the base model's output through dropout (off in eval) and its output layer.
    logits = model(input_ids=input_ids, attention_mask=mask, decoder_input_ids=torch.full((3, 4), BOS)).logits
    torch.testing.assert_close(logits, model.lm_head(out.last_hidden_state))


def test_generation_continues_from_the_returned_cache():
    model = tiny_model("general")
    input_ids, mask = sources()
    first = model.generate(input_ids, attention_mask=mask, max_new_tokens=3, min_new_tokens=3,
                           return_dict_in_generate=True)
    continued = model.generate(input_ids, attention_mask=mask, decoder_input_ids=first.sequences,
                               past_key_values=first.past_key_values, max_new_tokens=4, min_new_tokens=4)
    longer = model.generate(input_ids, attention_mask=mask, max_new_tokens=7, min_new_tokens=7)
    assert torch.equal(continued, longer)


def test_a_beam_search_cache_cannot_be_continued():
    # Its rows are the last running beams, not `sequences`: continuing would silently use other rows' states.
    model = tiny_model("general")
    input_ids, mask = sources()
    first = model.generate(input_ids, attention_mask=mask, max_new_tokens=3, min_new_tokens=3, num_beams=3,
                           return_dict_in_generate=True)
    with pytest.raises(ValueError, match="The cache cannot be continued: it was returned by beam search"):
        model.generate(input_ids, attention_mask=mask, decoder_input_ids=first.sequences,
                       past_key_values=first.past_key_values, max_new_tokens=4, num_beams=3)
    # The same states in a cache of one's own: 9 rows (3 beams per source), which the 3 sources expanded would match.
    rebuilt = RecurrentStateCache.from_tensors(first.past_key_values.to_tensors(), seen_tokens=4)
    with pytest.raises(ValueError, match="cannot be continued: it holds 9 rows but the inputs have 3"):
        model.generate(input_ids, attention_mask=mask, decoder_input_ids=first.sequences, past_key_values=rebuilt,
                       max_new_tokens=4, num_beams=3)
