"""Seq2SeqGRUAttentionEnsemble: its distribution is the mean of the members', the shared cache steps exactly like the
full forward pass, generate() (greedy and beam search, padded batches) searches that distribution, saving and
reloading (tied members included), and errors naming the member, field or argument."""

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM

from rnnformers import (
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionEnsemble,
    Seq2SeqGRUAttentionEnsembleConfig,
)
from rnnformers.models.seq2seq_gru_attention.modeling_seq2seq_gru_attention import (
    RecurrentStateCache,
    generation_cache_name,
    shift_tokens_right,
)

from test_modeling_seq2seq_gru_attention import logits_step_by_step


PAD, BOS, EOS = 0, 2, 3


def member(seed, **kwargs):
    torch.manual_seed(seed)
    settings = {"vocab_size": 40, "embedding_dim": 16, "hidden_size": 16, "num_layers": 2, **kwargs}
    return Seq2SeqGRUAttention(Seq2SeqGRUAttentionConfig(**settings)).eval()


def unlike_members():
    """Three members of different shapes: sizes, depth, attention, bidirectional encoder, tied output layer."""
    return [
        member(0),
        member(1, hidden_size=12, num_layers=1, attention_type="general", bidirectional_encoder=True),
        member(2, embedding_dim=8, hidden_size=20, num_layers=3, attention_type="concat", tie_word_embeddings=True),
    ]


def sources():
    """Three sources `<s> … </s>`: full length, left-padded and right-padded, with their attention mask."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(4, 40, (3, 7), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = BOS, EOS
    mask = torch.ones_like(input_ids)
    input_ids[1, :2], mask[1, :2] = PAD, 0
    input_ids[2, 3], input_ids[2, 4:], mask[2, 4:] = EOS, PAD, 0
    return input_ids, mask


def labels():
    generator = torch.Generator().manual_seed(2)
    targets = torch.randint(4, 40, (3, 6), generator=generator)
    targets[:, -1] = EOS
    targets[2, 4:] = -100
    return targets


def test_the_distribution_is_the_mean_of_the_members_and_the_loss_its_cross_entropy():
    members = unlike_members()
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(members)
    input_ids, mask = sources()
    with torch.no_grad():
        output = ensemble(input_ids=input_ids, attention_mask=mask, labels=labels())
        probabilities = [m(input_ids=input_ids, attention_mask=mask, labels=labels()).logits.softmax(-1)
                         for m in members]
    assert output.logits.shape == (3, 6, 40)
    torch.testing.assert_close(output.logits.exp(), torch.stack(probabilities).mean(0))
    expected_loss = torch.nn.functional.nll_loss(output.logits.reshape(-1, 40), labels().reshape(-1), ignore_index=-100)
    torch.testing.assert_close(output.loss, expected_loss)


def test_stepping_with_the_shared_cache_gives_the_full_forward_logits():
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(unlike_members())
    input_ids, mask = sources()
    decoder_input_ids = shift_tokens_right(labels(), PAD, BOS)
    with torch.no_grad():
        full = ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids).logits
        stepped, cache = logits_step_by_step(ensemble, input_ids, mask, decoder_input_ids)
    assert isinstance(cache, RecurrentStateCache) and len(cache.layers) == 2 + 1 + 3
    assert cache.get_seq_length() == decoder_input_ids.shape[1]
    torch.testing.assert_close(stepped, full)


def test_greedy_generate_takes_the_most_likely_token_of_the_mean_distribution_at_each_step():
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(unlike_members())
    input_ids, mask = sources()
    with torch.no_grad():
        generated = ensemble.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=6, do_sample=False)
        # Without any cache: the whole prefix through the whole ensemble, one token at a time.
        prefix = torch.full((3, 1), BOS)
        finished = torch.zeros(3, dtype=torch.bool)
        for _ in range(6):
            logits = ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=prefix,
                              use_cache=False).logits
            next_tokens = torch.where(finished, PAD, logits[:, -1].argmax(-1))
            prefix = torch.cat([prefix, next_tokens[:, None]], dim=1)
            finished |= next_tokens == EOS
            if finished.all():
                break
    assert torch.equal(generated, prefix)


@pytest.mark.parametrize("num_beams", [1, 4])
def test_an_ensemble_of_one_model_twice_translates_as_that_model(num_beams):
    model = member(0, bidirectional_encoder=True, tie_word_embeddings=True)
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members([model, model])
    input_ids, mask = sources()
    with torch.no_grad():
        expected = model.generate(input_ids=input_ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=8)
        got = ensemble.generate(input_ids=input_ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=8)
    assert torch.equal(got, expected)


def test_beam_search_of_a_padded_batch_equals_each_source_alone():
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(unlike_members())
    input_ids, mask = sources()
    with torch.no_grad():
        batch = ensemble.generate(input_ids=input_ids, attention_mask=mask, num_beams=3, max_new_tokens=8)
        for row in range(3):
            alone = ensemble.generate(input_ids=input_ids[row : row + 1][mask[row : row + 1].bool()][None],
                                      num_beams=3, max_new_tokens=8)[0]
            assert torch.equal(batch[row, : len(alone)], alone) and (batch[row, len(alone) :] == PAD).all()


def test_save_and_reload_keeps_every_member_tied_output_layers_included(tmp_path):
    members = unlike_members()
    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(members)
    ensemble.generation_config.max_new_tokens = 8
    ensemble.save_pretrained(tmp_path)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, Seq2SeqGRUAttentionEnsemble)
    tied = reloaded.members[2]
    assert tied.lm_head.weight.data_ptr() == tied.get_input_embeddings().weight.data_ptr()
    for own, given in zip(reloaded.members, members):
        for (name, value), expected in zip(own.state_dict().items(), given.state_dict().values()):
            assert torch.equal(value, expected), name
    input_ids, mask = sources()
    with torch.no_grad():
        assert torch.equal(reloaded.generate(input_ids=input_ids, attention_mask=mask, num_beams=3),
                           ensemble.generate(input_ids=input_ids, attention_mask=mask, num_beams=3))
    # The members' weights are copies: the ensemble does not change when a given member does.
    with torch.no_grad():
        members[0].lm_head.bias.add_(1.0)
    assert not torch.equal(ensemble.members[0].lm_head.bias, members[0].lm_head.bias)


def test_bad_configurations_members_and_inputs_raise_errors_naming_them():
    one = member(0).config.to_diff_dict()
    with pytest.raises(ValueError, match="`members` must hold at least two"):
        Seq2SeqGRUAttentionEnsembleConfig(members=[one])
    with pytest.raises(ValueError, match="`members` must be a list"):
        Seq2SeqGRUAttentionEnsembleConfig(members="outputs/nmt")
    with pytest.raises(ValueError, match="member 1's `vocab_size` is 50, member 0's 40"):
        Seq2SeqGRUAttentionEnsembleConfig(members=[one, {**one, "vocab_size": 50}])
    with pytest.raises(ValueError, match="member 1's `eos_token_id`"):
        Seq2SeqGRUAttentionEnsembleConfig(members=[one, {**one, "eos_token_id": 5}])
    with pytest.raises(ValueError, match="`hidden_size` must be a positive integer"):
        Seq2SeqGRUAttentionEnsembleConfig(members=[one, {**one, "hidden_size": 0}])
    with pytest.raises(ValueError, match="must be Seq2SeqGRUAttention models, got .*Linear"):
        Seq2SeqGRUAttentionEnsemble.from_members([member(0), torch.nn.Linear(2, 2)])

    ensemble = Seq2SeqGRUAttentionEnsemble.from_members(unlike_members())
    input_ids, mask = sources()
    decoder_input_ids = torch.full((3, 1), BOS)
    for name, value in (("output_attentions", True), ("output_hidden_states", True),
                        ("decoder_inputs_embeds", torch.zeros(3, 1, 16))):
        with pytest.raises(ValueError, match=f"`{name}` is not supported by an ensemble"):
            ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids, **{name: value})
    with pytest.raises(ValueError, match="Pass `labels` or `decoder_input_ids`"):
        ensemble(input_ids=input_ids, attention_mask=mask)
    with pytest.raises(ValueError, match="`labels` must be token ids in \\[0, 40\\)"):
        ensemble(input_ids=input_ids, attention_mask=mask, labels=torch.full((3, 2), 40))
    with pytest.raises(ValueError, match="`labels` has shape \\(3, 2\\) but the decoder inputs have \\(3, 1\\)"):
        ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                 labels=torch.full((3, 2), 5))
    with pytest.raises(ValueError, match="rows \\[0\\] of `attention_mask` are all padding"):
        ensemble(input_ids=input_ids, attention_mask=mask * torch.tensor([[0], [1], [1]]),
                 decoder_input_ids=decoder_input_ids)
    member_cache = getattr(member(0)(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                                     use_cache=True), generation_cache_name())
    with pytest.raises(ValueError, match="holds the state of a `seq2seq_gru_attention` model, not of this "
                                         "`seq2seq_gru_attention_ensemble` model"):
        ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids, cache=member_cache)
    two_layers = RecurrentStateCache.from_tensors(member_cache.to_tensors(), seen_tokens=1)
    with pytest.raises(ValueError, match="must hold the 6 decoder layers of the members \\(2 \\+ 1 \\+ 3\\), got 2"):
        ensemble(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids, cache=two_layers)
