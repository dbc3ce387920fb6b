"""GRUForTokenClassification: a tagger's head on the family's backbone, loaded from a language model's folder (the ELMo /
ULMFiT route for tagging), with transformers' token-classification loss conventions."""

import pytest
import torch
from torch import nn
from transformers import AutoModelForTokenClassification, TokenClassificationPipeline
from transformers.modeling_outputs import TokenClassifierOutput

from rnnformers import GRUConfig, GRUForCausalLM, GRUForTokenClassification


VOCAB = 30
TAGS = ["NOUN", "VERB", "DET"]


def tagger(seed=0, **overrides):
    torch.manual_seed(seed)
    fields = dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0, bidirectional=True,
                  pad_token_id=0, num_labels=len(TAGS))
    config = GRUConfig(**{**fields, **overrides})
    return GRUForTokenClassification(config).eval()


@pytest.mark.parametrize("auto", [False, True], ids=["class", "auto"])
def test_a_tagger_loads_a_language_models_backbone_with_a_new_head(auto, tmp_path):
    torch.manual_seed(3)
    lm = GRUForCausalLM(GRUConfig(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0,
                                  bidirectional=True, separate_directions=True, pad_token_id=0)).eval()
    lm.save_pretrained(tmp_path)
    labels = {"num_labels": 3, "id2label": dict(enumerate(TAGS)), "label2id": {t: i for i, t in enumerate(TAGS)}}
    cls = AutoModelForTokenClassification if auto else GRUForTokenClassification
    model = cls.from_pretrained(tmp_path, **labels).eval()
    assert isinstance(model, GRUForTokenClassification) and model.config.id2label[1] == "VERB"
    for name, value in lm.gru.state_dict().items():
        torch.testing.assert_close(model.gru.state_dict()[name], value, msg=name)
    # Each token's scores read the forward LM's state after the token and the backward LM's state from the right.
    text = torch.randint(1, VOCAB, (1, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        features = lm.gru(text).last_hidden_state
        logits = model(text).logits
    assert logits.shape == (1, 7, 3)
    torch.testing.assert_close(logits, model.classifier(features))


def test_loss_is_the_cross_entropy_of_the_labelled_real_tokens():
    model = tagger()
    ids = torch.tensor([[5, 6, 7, 8], [0, 0, 9, 10]])
    mask = (ids != 0).long()
    labels = torch.tensor([[0, -100, 1, 2], [1, 1, 2, 0]])  # -100: a continuation piece; row 2's first two: padding
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert isinstance(out, TokenClassifierOutput) and out.logits.shape == (2, 4, 3)
    kept = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    expected = nn.functional.cross_entropy(out.logits[kept], labels[kept])
    torch.testing.assert_close(out.loss, expected)
    # The padded row alone gives the same scores at its real tokens.
    alone = model(input_ids=ids[1:, 2:]).logits
    torch.testing.assert_close(out.logits[1, 2:], alone[0], atol=1e-6, rtol=1e-5)
    # The tuple form follows the same order.
    loss, logits = model(input_ids=ids, attention_mask=mask, labels=labels, return_dict=False)
    torch.testing.assert_close(loss, out.loss)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([[0, 1, 2]]), "shape"),
        (torch.tensor([[0, 1, 2, 3]]), r"\[0, 3\)"),
        (torch.tensor([[0.0, 1.0, 2.0, 0.0]]), "dtype"),
    ],
)
def test_bad_labels_are_named(labels, message):
    with pytest.raises(ValueError, match=f"`labels`.*{message}|{message}.*`labels`"):
        tagger()(input_ids=torch.tensor([[5, 6, 7, 8]]), labels=labels)


def test_the_token_classification_pipeline_tags_words(tmp_path):
    from rnnformers.tokenization import train_word_piece_tokenizer_for_words

    words = "the cat sat on the mat while a dog ran".split() * 3
    tokenizer = train_word_piece_tokenizer_for_words(words, vocab_size=VOCAB)
    model = tagger(seed=2, vocab_size=len(tokenizer), id2label=dict(enumerate(TAGS)),
                   label2id={t: i for i, t in enumerate(TAGS)})
    tag = TokenClassificationPipeline(model=model, tokenizer=tokenizer, aggregation_strategy="first")
    sentence = "the cat sat on the mat"
    result = tag(sentence)
    # Neighbouring words with the same tag form one group (plain tags, no B-/I- prefixes): the groups cover the
    # sentence in order, each with its span's offsets.
    assert " ".join(entity["word"] for entity in result) == sentence
    assert all(sentence[entity["start"] : entity["end"]] == entity["word"] for entity in result)
    assert {entity["entity_group"] for entity in result} <= set(TAGS)


def test_with_the_trainers_count_the_loss_is_the_sum_over_it():
    # Under gradient accumulation or several processes the Trainer passes the labelled-token count of the whole
    # optimizer step, and does not rescale the loss itself.
    model = tagger()
    ids, labels = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[0, -100, 1, 2]])
    mean = model(input_ids=ids, labels=labels).loss
    torch.testing.assert_close(model(input_ids=ids, labels=labels, num_items_in_batch=torch.tensor(12)).loss,
                               mean * 3 / 12)
    torch.testing.assert_close(model(input_ids=ids, labels=labels, num_items_in_batch=6).loss, mean * 3 / 6)


def test_the_trainer_scales_each_head_as_its_loss_expects(tmp_path):
    from transformers import Trainer, TrainingArguments

    from rnnformers import GRUForSequenceClassification

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    # The token heads divide by the Trainer's count; the sequence head returns its batch mean (for every problem type).
    assert Trainer(model=tagger(), args=args).model_accepts_loss_kwargs
    sequence_head = GRUForSequenceClassification(GRUConfig(vocab_size=VOCAB, embedding_dim=8, hidden_size=6))
    assert not Trainer(model=sequence_head, args=args).model_accepts_loss_kwargs
