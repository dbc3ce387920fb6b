"""GRUForSequenceClassification: padding invariance, packed-sequence equivalence, loss conventions, pretrained
embeddings, learning with the Trainer, and clear errors on bad input."""

import pytest
import torch
from datasets import Dataset
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    BertModel,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from rnnformers import FreezeEmbeddingsCallback, GRUConfig, GRUForCausalLM, GRUForSequenceClassification
from rnnformers.metrics import load_metric
from rnnformers.tokenization import train_subword_tokenizer


def tiny_model(seed: int = 0, **overrides) -> GRUForSequenceClassification:
    torch.manual_seed(seed)
    config = dict(vocab_size=40, embedding_dim=8, hidden_size=6, num_layers=2, dropout=0.0) | overrides
    return GRUForSequenceClassification(GRUConfig(**config)).eval()


def pad(ids: torch.Tensor, length: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One row of ids padded with id 0 to `length` on `side`, and its attention mask."""
    padding = torch.zeros(length - ids.numel(), dtype=torch.long)
    ones, zeros = torch.ones(ids.numel(), dtype=torch.long), torch.zeros_like(padding)
    if side == "right":
        return torch.cat([ids, padding]), torch.cat([ones, zeros])
    return torch.cat([padding, ids]), torch.cat([zeros, ones])


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean_max"])
def test_padding_on_either_side_never_changes_the_logits(cell_type, bidirectional, pooling):
    model = tiny_model(cell_type=cell_type, bidirectional=bidirectional, pooling=pooling)
    generator = torch.Generator().manual_seed(1)
    reviews = [torch.randint(2, 40, (n,), generator=generator) for n in (9, 2, 5)]
    with torch.no_grad():
        alone = torch.cat([model(review.unsqueeze(0)).logits for review in reviews])
        for side in ("right", "left"):
            ids, mask = map(torch.stack, zip(*(pad(review, 12, side) for review in reviews)))
            batched = model(ids, attention_mask=mask).logits
            torch.testing.assert_close(batched, alone, atol=1e-6, rtol=1e-5)
    # Without the mask the padding is read as tokens: the logits of padded rows change (the chapter's first model).
    with torch.no_grad():
        unmasked = model(ids).logits
    assert not torch.allclose(unmasked[1], alone[1], atol=1e-4)


@pytest.mark.parametrize("cell_type", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_state_equals_torch_rnn_on_a_packed_sequence(cell_type, bidirectional):
    model = tiny_model(cell_type=cell_type, bidirectional=bidirectional)
    reference = (nn.LSTM if cell_type == "lstm" else nn.GRU)(
        8, 6, num_layers=2, bidirectional=bidirectional, batch_first=True
    )
    with torch.no_grad():
        for layer, directions in enumerate(model.gru.rnn.layers):
            for direction, rnn in enumerate(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(reference, name + suffix).copy_(getattr(rnn, name + "_l0"))
        inputs, lengths = torch.randn(3, 7, 8), torch.tensor([7, 3, 5])
        mask = torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)
        outputs, layer_outputs, final_state = model.gru.rnn(inputs, mask.long())
        last_state = model.gru(inputs_embeds=inputs, attention_mask=mask.long()).last_state
        packed_outputs, h_n = reference(pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False))
    h_n, c_n = h_n if cell_type == "lstm" else (h_n, None)
    directions = 2 if bidirectional else 1
    # The chapter's `hidden_states[-2:].permute(1, 0, 2).reshape(...)`: the top layer's directions, concatenated.
    torch.testing.assert_close(last_state, h_n[-directions:].permute(1, 0, 2).reshape(3, -1))
    # Every layer's and direction's final state, as nn.GRU / nn.LSTM's h_n (and c_n), batch-first per layer.
    assert len(final_state) == 2 * directions and len(layer_outputs) == 2
    torch.testing.assert_close(torch.stack([state[0] for state in final_state]), h_n)
    if c_n is not None:
        torch.testing.assert_close(torch.stack([state[1] for state in final_state]), c_n)
    # Outputs at the tokens' positions, 0 at padding.
    padded, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True, total_length=7)
    torch.testing.assert_close(outputs, padded)


def test_defaults_are_the_chapter_model():
    config = GRUConfig()
    assert (config.embedding_dim, config.hidden_size, config.num_layers, config.dropout) == (128, 64, 2, 0.2)
    assert (config.bidirectional, config.cell_type, config.pooling, config.num_labels) == (False, "gru", "last", 2)
    model = GRUForSequenceClassification(GRUConfig(vocab_size=100, bidirectional=True, pooling="mean_max"))
    assert model.classifier.in_features == 2 * 2 * 64  # two directions, mean and max
    assert model.get_input_embeddings().padding_idx == 0 and not model.get_input_embeddings().weight[0].any()


def test_loss_conventions_follow_transformers():
    ids = torch.randint(1, 40, (4, 6))
    classes = tiny_model(num_labels=3)
    labels = torch.tensor([0, 2, 1, 2])
    out = classes(ids, labels=labels)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))
    assert classes.config.problem_type == "single_label_classification"

    regression = tiny_model(num_labels=1)
    targets = torch.tensor([0.5, -1.0, 2.0, 0.0])
    out = regression(ids, labels=targets)
    assert out.logits.shape == (4, 1)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), targets))

    multi = tiny_model(num_labels=3, problem_type="multi_label_classification")
    targets = torch.tensor([[1.0, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]])
    out = multi(ids, labels=targets)
    torch.testing.assert_close(out.loss, F.binary_cross_entropy_with_logits(out.logits, targets))

    ignored = classes(ids, labels=torch.tensor([0, -100, 1, -100]))  # -100 is left out, as in every HF model
    kept = classes(ids[[0, 2]], labels=torch.tensor([0, 1]))
    torch.testing.assert_close(ignored.loss, kept.loss)


def test_auto_classes_build_the_model_from_its_config():
    config = AutoConfig.for_model("gru", vocab_size=30)
    assert isinstance(config, GRUConfig)
    assert isinstance(AutoModelForSequenceClassification.from_config(config), GRUForSequenceClassification)


@pytest.mark.parametrize(
    "field, value",
    [("vocab_size", 0), ("hidden_size", 1.5), ("num_layers", True), ("dropout", 1.0), ("embedding_dropout", -0.1),
     ("cell_type", "rnn"), ("pooling", "attention"), ("bidirectional", "yes"), ("pad_token_id", 99),
     ("classifier_batch_norm", 1), ("classifier_hidden_size", 0), ("classifier_hidden_size", 2.0)],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"`{field}`"):
        GRUConfig(**{"vocab_size": 50, field: value})


def test_bad_inputs_raise_clear_errors():
    model = tiny_model()
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))  # what an empty string tokenizes to
    with pytest.raises(ValueError, match=r"rows \[1\] of `attention_mask` are all padding"):
        model(torch.ones(2, 3, dtype=torch.long), attention_mask=torch.tensor([[1, 1, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\).*\[2\]"):
        model(torch.ones(2, 3, dtype=torch.long), labels=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"must be in \[0, 40\).*tokenizer"):
        model(torch.tensor([[3, 45]]))  # a tokenizer with a larger vocabulary than the model's
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.ones(1, 3))
    with pytest.raises(ValueError, match="batched"):
        model(torch.ones(3, dtype=torch.long))


def test_embedding_from_a_pretrained_model_then_frozen_then_fine_tuned(tmp_path):
    # The chapter's recipe with BERT's input embeddings; a tiny random BERT stands in for bert-base-uncased.
    bert = BertModel(BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=16))
    model = tiny_model(num_layers=1, pooling="mean")
    model.load_pretrained_embeddings(bert.get_input_embeddings())
    torch.testing.assert_close(model.get_input_embeddings().weight, bert.get_input_embeddings().weight)
    with pytest.raises(ValueError, match=r"\[40, 16\]"):
        tiny_model(embedding_dim=16).load_pretrained_embeddings(bert.get_input_embeddings())

    data = Dataset.from_dict({"input_ids": [[i % 40, (3 * i) % 39 + 1] for i in range(64)],
                              "labels": [i % 2 for i in range(64)]})
    snapshots = []

    class Snapshot(TrainerCallback):
        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            snapshots.append(model.get_input_embeddings().weight.detach().clone())

    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=3, per_device_train_batch_size=16,
                             learning_rate=1e-2, report_to="none", save_strategy="no", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[FreezeEmbeddingsCallback(frozen_epochs=2), Snapshot()])
    start = model.get_input_embeddings().weight.detach().clone()
    trainer.train()
    torch.testing.assert_close(snapshots[0], start)  # frozen in epoch 1...
    torch.testing.assert_close(snapshots[1], start)  # ... and 2
    assert not torch.allclose(snapshots[2], start)  # fine-tuned in epoch 3
    assert model.get_input_embeddings().weight.requires_grad


def toy_reviews(n: int, seed: int) -> Dataset:
    """Reviews of filler words with one sentiment word, anywhere, deciding the label: learnable but not trivially."""
    generator = torch.Generator().manual_seed(seed)
    filler = "the movie plot actor scene story film director music camera ending cast".split()
    positive, negative = "great wonderful superb".split(), "awful boring terrible".split()
    texts, labels = [], []
    for _ in range(n):
        words = [filler[i] for i in torch.randint(len(filler), (int(torch.randint(4, 12, ())),), generator=generator)]
        label = int(torch.randint(2, ()))
        sentiment = (positive if label else negative)[int(torch.randint(3, ()))]
        words.insert(int(torch.randint(len(words) + 1, ())), sentiment)
        texts.append(" ".join(words))
        labels.append(label)
    return Dataset.from_dict({"text": texts, "label": labels})


def test_trainer_learns_a_toy_sentiment_task(tmp_path):
    train, valid = toy_reviews(600, seed=0), toy_reviews(200, seed=1)
    tokenizer = train_subword_tokenizer(train["text"], algorithm="wordpiece", vocab_size=60)
    tokenized = {name: split.map(lambda batch: tokenizer(batch["text"]), batched=True).rename_column("label", "labels")
                 for name, split in (("train", train), ("validation", valid))}
    torch.manual_seed(0)
    model = GRUForSequenceClassification(GRUConfig(vocab_size=len(tokenizer), embedding_dim=16, hidden_size=16,
                                                   num_layers=1, bidirectional=True, pooling="max"))
    metric = load_metric("accuracy_f1")
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=4, per_device_train_batch_size=32,
                             learning_rate=1e-2, report_to="none", save_strategy="no", disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=tokenized["train"], eval_dataset=tokenized["validation"],
                      data_collator=DataCollatorWithPadding(tokenizer),
                      compute_metrics=lambda p: metric.compute(predictions=p.predictions.argmax(-1),
                                                               references=p.label_ids))
    before = trainer.evaluate()["eval_accuracy"]
    trainer.train()
    after = trainer.evaluate()
    assert before < 0.7
    assert after["eval_accuracy"] > 0.95 and after["eval_f1"] > 0.95, after


def test_accuracy_f1_metric_matches_the_definitions():
    metric = load_metric("accuracy_f1")
    # TP=2, FP=1, FN=1: precision = recall = 2/3.
    assert metric.compute(predictions=[1, 1, 1, 0, 0], references=[1, 1, 0, 1, 0]) == pytest.approx(
        {"accuracy": 0.6, "f1": 2 / 3})
    # Macro F1 averages the classes: class 0 has F1 1/2, class 1 has 2/3.
    result = metric.compute(predictions=[1, 1, 1, 0, 0], references=[1, 1, 0, 1, 0], average="macro")
    assert result["f1"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert load_metric("accuracy_f1", config_name="macro").compute(
        predictions=[1, 1, 1, 0, 0], references=[1, 1, 0, 1, 0])["f1"] == pytest.approx(result["f1"])
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("bleu_from_the_hub")


def test_save_and_reload_keeps_every_weight_even_a_pretrained_padding_row(tmp_path):
    model = tiny_model(bidirectional=True, pooling="mean_max")
    model.load_pretrained_embeddings(torch.randn(40, 8))  # row 0 (padding) is not zero, as in BERT's [PAD]
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert isinstance(reloaded, GRUForSequenceClassification)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[name], tensor, msg=name)


def test_bad_labels_and_embeddings_raise_errors_naming_them():
    model = tiny_model()
    ids = torch.ones(2, 3, dtype=torch.long)
    for labels in (torch.tensor([[0, 1], [1, 0]]), torch.tensor(1), [0, 1]):  # 2-D, 0-d, a list
        with pytest.raises(ValueError, match="`labels`"):
            model(ids, labels=labels)
    # Float 0.0 / 1.0 class ids must not silently turn a single-label classifier into a multi-label one.
    with pytest.raises(ValueError, match="integer class ids"):
        model(ids, labels=torch.tensor([0.0, 1.0]))
    assert model.config.problem_type is None
    model(ids, labels=torch.tensor([0, 1]))
    assert model.config.problem_type == "single_label_classification"
    with pytest.raises(ValueError, match="inputs_embeds"):
        model(inputs_embeds=torch.zeros(2, 3, 5))  # embedding_dim is 8


def test_base_model_outputs_every_layer_at_the_tokens_positions_and_zero_at_padding():
    model = tiny_model(bidirectional=True, num_layers=3)
    ids, mask = map(torch.stack, zip(pad(torch.arange(2, 7), 8, "left"), pad(torch.arange(2, 5), 8, "right")))
    out = model.gru(ids, attention_mask=mask, output_hidden_states=True)
    assert len(out.hidden_states) == 3 + 1 and out.last_hidden_state.shape == (2, 8, 2 * 6)
    assert torch.all(out.last_hidden_state[~mask.bool()] == 0) and torch.all(out.last_hidden_state[mask.bool()] != 0)
    torch.testing.assert_close(out.hidden_states[-1], out.last_hidden_state)


def test_ulmfit_head_batch_norms_the_pooled_features_and_keeps_its_statistics(tmp_path):
    model = tiny_model(bidirectional=True, pooling="mean_max", classifier_batch_norm=True, classifier_hidden_size=5)
    assert model.pre_classifier.out_features == 5 and model.classifier.in_features == 5
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 40, (6, 7), generator=generator)
    model.train()
    model(ids, labels=torch.tensor([0, 1, 0, 1, 1, 0])).loss.backward()
    # Training normalised with this batch's statistics and moved the running ones.
    assert model.pooled_norm.num_batches_tracked == 1 and model.pooled_norm.running_mean.abs().sum() > 0
    assert model.classifier.weight.grad is not None and model.pooled_norm.weight.grad is not None
    # A training batch of one text (an epoch's last) is standardised by the running statistics and leaves them alone.
    statistics = {name: tensor.clone() for name, tensor in model.state_dict().items() if "running" in name}
    one = model(ids[:1]).logits
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in statistics.items())
    model.dropout.p = 0.0
    with torch.no_grad():
        torch.testing.assert_close(model(ids[:1]).logits, model.eval()(ids[:1]).logits)
    model.train()
    assert one.requires_grad

    model.eval()  # running statistics: a text's logits do not depend on the batch it is in, nor on padding
    reviews = [ids[0, :7], ids[1, :3]]
    with torch.no_grad():
        alone = torch.cat([model(review.unsqueeze(0)).logits for review in reviews])
        batch, mask = map(torch.stack, zip(*(pad(review, 9, "left") for review in reviews)))
        torch.testing.assert_close(model(batch, attention_mask=mask).logits, alone, atol=1e-6, rtol=1e-5)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[name], tensor, msg=name)


def test_a_backbone_loaded_under_the_ulmfit_head_starts_its_batch_norms_at_pytorchs_defaults(tmp_path):
    torch.manual_seed(0)
    GRUForCausalLM(GRUConfig(vocab_size=40, embedding_dim=8, hidden_size=6, bidirectional=True,
                             separate_directions=True)).save_pretrained(tmp_path)  # a language model's folder
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path, classifier_batch_norm=True,
                                                               classifier_hidden_size=3)
    for norm in (model.pooled_norm, model.hidden_norm):
        for name, tensor in torch.nn.BatchNorm1d(norm.num_features).state_dict().items():
            torch.testing.assert_close(norm.state_dict()[name], tensor, msg=name)
