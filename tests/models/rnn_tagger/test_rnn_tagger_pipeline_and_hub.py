"""`pipeline("token-classification")` on the tagger (word offsets, aggregation, pre-split words, CRF decoding) and
remote-code loading from a Hub-cache snapshot with rnnformers blocked."""

import json

import pytest
import torch
from transformers import pipeline

from rnnformers import RNNTaggerConfig, RNNTaggerForTokenClassification
from rnnformers.tokenization import train_word_piece_tokenizer_for_words

from conftest import make_hub_snapshot, run_python_without_rnnformers


LABELS = ["ADJ", "DET", "NOUN", "VERB"]
SENTENCE = "the old dogs barked loudly at the unbelievably tall postman"


@pytest.fixture(scope="module")
def tagger_folder(tmp_path_factory):
    """A saved tiny CRF tagger and its WordPiece tokenizer (several words of SENTENCE split into pieces)."""
    folder = tmp_path_factory.mktemp("tagger")
    tokenizer = train_word_piece_tokenizer_for_words(["the", "old", "dog", "bark", "at", "tall", "post"] * 5, 45)
    torch.manual_seed(0)
    config = RNNTaggerConfig(vocab_size=len(tokenizer), embedding_dim=8, hidden_size=8, num_layers=1, use_crf=True,
                             pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
                             id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    model = RNNTaggerForTokenClassification(config).eval()
    for parameter in model.crf.parameters():
        torch.nn.init.normal_(parameter, std=2.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def word_tags(model, tokenizer, words):
    """The Viterbi tag of each word (its first token's), straight from the model."""
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    path = model.decode(encoding["input_ids"], encoding["attention_mask"])[0]
    firsts = {}
    for position, word in enumerate(encoding.word_ids(0)):
        firsts.setdefault(word, path[position])
    return [model.config.id2label[firsts[i]] for i in range(len(words))]


def test_pipeline_gives_word_offsets_and_the_viterbi_tags(tagger_folder):
    tagger = pipeline("token-classification", model=str(tagger_folder), aggregation_strategy="none")
    tokenizer, model = tagger.tokenizer, tagger.model
    words = SENTENCE.split()
    assert len(tokenizer(words, is_split_into_words=True)["input_ids"]) > len(words)  # some words have pieces
    expected = word_tags(model, tokenizer, words)

    tokens = tagger(SENTENCE)
    for token in tokens:
        assert SENTENCE[token["start"] : token["end"]] == token["word"].removeprefix("##")

    for strategy in ("first", "max", "average"):
        groups = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy=strategy)(
            SENTENCE
        )
        # Groups are runs of whole words (the pipeline merges adjacent words with the same tag).
        covered = []
        for group in groups:
            assert SENTENCE[group["start"] : group["end"]] == group["word"]
            covered.extend((word, group["entity_group"]) for word in group["word"].split())
        assert [word for word, _ in covered] == words
        if strategy == "first":
            # A word's tag is its first token's, which is the CRF's Viterbi decision.
            assert [tag for _, tag in covered] == expected

    # Pre-split words, as CoNLL-U gives them: offsets refer to the words joined by spaces.
    (groups,) = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="first")(
        words, is_split_into_words=True
    )
    joined = " ".join(words)
    covered = [(w, g["entity_group"]) for g in groups for w in joined[g["start"] : g["end"]].split()]
    assert covered == list(zip(words, expected))


def test_pipeline_on_an_empty_sentence_raises_a_clear_error(tagger_folder):
    tagger = pipeline("token-classification", model=str(tagger_folder))
    with pytest.raises(ValueError, match="empty sentence"):
        tagger("")


def test_remote_code_model_and_pipeline_from_a_hub_snapshot_without_rnnformers(tagger_folder, tmp_path):
    hf_home = tmp_path / "hf_home"
    make_hub_snapshot(tagger_folder, hf_home, "someone/rnn-tagger")
    config = json.loads((tagger_folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForTokenClassification"].endswith("RNNTaggerForTokenClassification")
    assert config["auto_map"]["AutoModel"] == "modeling_rnn_tagger.RNNTaggerModel"
    model = RNNTaggerForTokenClassification.from_pretrained(tagger_folder).eval()
    ids = [[2, 5, 7, 9, 3]]
    expected = model(torch.tensor(ids)).logits.tolist()
    result = run_python_without_rnnformers(
        f"""
        import json, torch
        from transformers import AutoModel, AutoModelForTokenClassification, pipeline
        model = AutoModelForTokenClassification.from_pretrained("someone/rnn-tagger", trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        torch.testing.assert_close(model(torch.tensor({ids})).logits, torch.tensor({expected}))
        assert type(model.base_model).__name__ == "RNNTaggerModel"
        base = AutoModel.from_pretrained("someone/rnn-tagger", trust_remote_code=True)
        assert type(base).__name__ == "RNNTaggerModel"
        tagger = pipeline("token-classification", model="someone/rnn-tagger", trust_remote_code=True,
                          aggregation_strategy="first")
        print(json.dumps([g["word"] for g in tagger("{SENTENCE}")]))
        """,
        hf_home,
    )
    groups = json.loads(result.stdout.strip().splitlines()[-1])
    assert " ".join(groups) == SENTENCE
