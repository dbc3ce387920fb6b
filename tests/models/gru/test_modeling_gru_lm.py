"""GRUForCausalLM: the forward and backward language models on the classifier's backbone (ELMo's biLM, the ULMFiT
route): no direction reads the token it predicts, the loss is the two shifted cross-entropies, and a classifier loads
the pretrained backbone from the LM's folder with a new head."""

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from rnnformers import GRUConfig, GRUForCausalLM, GRUForSequenceClassification, GRUModel
from rnnformers.models.gru.modeling_gru import ChunkedCrossEntropy, causal_lm_loss


VOCAB = 30


def lm(seed=0, **overrides):
    torch.manual_seed(seed)
    config = GRUConfig(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=3, dropout=0.0,
                       bidirectional=True, separate_directions=True, pad_token_id=0, **overrides)
    return GRUForCausalLM(config).eval()


def ids(seed, length=9):
    return torch.randint(1, VOCAB, (1, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
def test_no_direction_reads_the_token_it_predicts(cell_type):
    model = lm(cell_type=cell_type)
    text, t = ids(1), 4
    later, earlier = text.clone(), text.clone()
    later[0, t + 1:] = ids(2)[0, t + 1:]  # change every token after t
    earlier[0, :t] = ids(3)[0, :t]  # change every token before t
    with torch.no_grad():
        out, out_later, out_earlier = model(text), model(later), model(earlier)
    # The forward LM at t has read tokens 0..t only; the backward LM at t tokens t..end only.
    torch.testing.assert_close(out.logits[0, : t + 1], out_later.logits[0, : t + 1])
    torch.testing.assert_close(out.backward_logits[0, t:], out_earlier.backward_logits[0, t:])
    assert not torch.allclose(out.logits[0, t + 1:], out_later.logits[0, t + 1:])
    assert not torch.allclose(out.backward_logits[0, :t], out_earlier.backward_logits[0, :t])


def test_without_separate_directions_the_forward_features_see_the_future():
    # Why the LM insists on separate directions: the usual bidirectional stack mixes them from layer 2 on.
    torch.manual_seed(0)
    mixed = GRUModel(GRUConfig(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, bidirectional=True))
    text = ids(1)
    later = text.clone()
    later[0, 6:] = ids(2)[0, 6:]
    with torch.no_grad():
        forward_features = [mixed(x).last_hidden_state[0, :5, :6] for x in (text, later)]
    assert not torch.allclose(*forward_features)
    with pytest.raises(ValueError, match="needs `separate_directions=True`"):
        GRUForCausalLM(GRUConfig(vocab_size=VOCAB, num_layers=2, bidirectional=True))
    with pytest.raises(ValueError, match="`separate_directions=True` needs `bidirectional=True`"):
        GRUConfig(separate_directions=True)


def test_loss_is_the_mean_of_the_forward_and_backward_shifted_cross_entropies():
    model = lm()
    text = torch.cat([ids(1), ids(2)])
    labels = text.clone()
    labels[1, -2:] = -100
    with torch.no_grad():
        out = model(text, labels=labels)
    vocab = model.config.vocab_size
    forward = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1),
                                                ignore_index=-100)
    backward = torch.nn.functional.cross_entropy(out.backward_logits[:, 1:].reshape(-1, vocab),
                                                 labels[:, :-1].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.forward_loss, forward)
    torch.testing.assert_close(out.backward_loss, backward)
    torch.testing.assert_close(out.loss, (forward + backward) / 2)


def test_a_unidirectional_lm_has_no_backward_scores():
    torch.manual_seed(0)
    model = GRUForCausalLM(GRUConfig(vocab_size=VOCAB, num_layers=2)).eval()
    out = model(ids(1), labels=ids(1))
    assert out.backward_logits is None and out.backward_loss is None and out.loss == out.forward_loss
    assert out.logits.shape == (1, 9, VOCAB)


@pytest.mark.parametrize("labels, message", [
    (torch.full((1, 9), 0.5), "integer token ids"),
    (torch.zeros(1, 8, dtype=torch.long), r"shape \(1, 8\) but the input has \(1, 9\)"),
    (torch.full((1, 9), VOCAB), rf"token ids in \[0, {VOCAB}\) \(`vocab_size`\) or -100"),
])
def test_bad_labels_are_named(labels, message):
    with pytest.raises(ValueError, match=message):
        lm()(ids(1), labels=labels)


@pytest.mark.parametrize("auto", [False, True])
def test_a_classifier_loads_the_pretrained_backbone_with_a_new_head(auto, tmp_path):
    model = lm(seed=3)
    model.save_pretrained(tmp_path)
    if auto:
        classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    else:
        classifier = GRUForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    assert isinstance(classifier, GRUForSequenceClassification) and classifier.config.separate_directions
    lm_backbone, backbone = model.gru.state_dict(), classifier.gru.state_dict()
    assert lm_backbone.keys() == backbone.keys()
    for name, value in lm_backbone.items():
        torch.testing.assert_close(backbone[name], value, msg=name)
    assert classifier.classifier.weight.shape == (2, 12)
    # The classifier's features are the LM's: the forward direction at the last token, the backward at the first.
    classifier.eval()
    text = ids(4)
    with torch.no_grad():
        features = model.gru(text).last_hidden_state
        pooled = classifier._pool(features, None, classifier.gru(text).last_state)
    torch.testing.assert_close(pooled, torch.cat([features[0, -1, :6], features[0, 0, 6:]]).unsqueeze(0))


@pytest.mark.parametrize("block_rows", [1, 4, 7, 100])
def test_chunked_cross_entropy_equals_torchs_in_value_and_gradient(block_rows):
    torch.manual_seed(0)
    scores = torch.randn(23, 11, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 11, (23,))
    ids[::5] = -100
    loss = ChunkedCrossEntropy.apply(scores, ids, block_rows)
    expected = torch.nn.functional.cross_entropy(scores, ids, ignore_index=-100, reduction="sum")
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss * 3, scores)
    (expected_grad,) = torch.autograd.grad(expected * 3, scores)
    torch.testing.assert_close(grad, expected_grad)
    assert torch.autograd.gradcheck(lambda s: ChunkedCrossEntropy.apply(s, ids, block_rows), (scores,))


def test_chunked_cross_entropy_of_bf16_scores_is_the_float32_loss_with_a_bf16_gradient():
    torch.manual_seed(1)
    scores = (torch.randn(64, 500) * 3).to(torch.bfloat16).requires_grad_()
    ids = torch.randint(0, 500, (64,))
    loss = ChunkedCrossEntropy.apply(scores, ids, 16)
    reference = scores.detach().float().requires_grad_()
    expected = torch.nn.functional.cross_entropy(reference, ids, reduction="sum")
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected)
    loss.backward()
    expected.backward()
    assert scores.grad.dtype == torch.bfloat16
    torch.testing.assert_close(scores.grad.float(), reference.grad, atol=4e-3, rtol=1e-2)


@pytest.mark.parametrize("num_items_in_batch", [None, 37])
def test_causal_lm_loss_is_transformers_loss(num_items_in_batch):
    from transformers.loss.loss_utils import ForCausalLMLoss

    torch.manual_seed(2)
    scores = torch.randn(3, 9, VOCAB)
    labels = torch.randint(0, VOCAB, (3, 9))
    labels[1, :4] = -100
    shifted = torch.nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]
    torch.testing.assert_close(
        causal_lm_loss(scores, shifted, num_items_in_batch),
        ForCausalLMLoss(scores, labels, VOCAB, num_items_in_batch=num_items_in_batch),
    )


def test_lstm_forget_bias_starts_every_forget_gate_and_a_loaded_folder_keeps_its_values(tmp_path):
    model = lm(cell_type="lstm", lstm_forget_bias=1.0)
    hidden = model.config.hidden_size
    for layer in range(model.config.num_layers):
        for direction in range(2):
            _, _, bias_ih, bias_hh = model.gru.rnn.layer_weights(layer, direction)
            assert torch.equal(bias_ih[hidden : 2 * hidden], torch.ones(hidden))
            assert torch.equal(bias_hh[hidden : 2 * hidden], torch.zeros(hidden))
            assert bias_ih[:hidden].abs().max() <= hidden**-0.5  # the other gates keep nn.LSTM's U(±1/sqrt(hidden))
    with torch.no_grad():
        model.gru.rnn.layer_weights(0, 0)[2][hidden : 2 * hidden] = 5.0  # as training would move it
    model.save_pretrained(tmp_path)
    loaded = GRUForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(loaded.gru.rnn.layer_weights(0, 0)[2][hidden : 2 * hidden], torch.full((hidden,), 5.0))
    # Without it, nn.LSTM's initialisation: no bias at 1.
    assert not (lm(cell_type="lstm").gru.rnn.layer_weights(0, 0)[2] == 1.0).any()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"cell_type": "gru", "lstm_forget_bias": 1.0}, "`lstm_forget_bias` is for `cell_type='lstm'`"),
    ({"cell_type": "lstm", "lstm_forget_bias": "one"}, "`lstm_forget_bias` must be None or a number"),
])
def test_lstm_forget_bias_errors_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        GRUConfig(**overrides)
