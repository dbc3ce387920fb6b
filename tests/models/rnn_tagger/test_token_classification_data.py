"""CoNLL-U reading as UD defines it (multiword tokens, empty nodes), label maps, sub-word label alignment and the
metrics of `rnnformers.training.token_classification`, on small files and on the bundled UD English EWT."""

import numpy as np
import pytest
from transformers import EvalPrediction

from rnnformers.tokenization import train_word_piece_tokenizer_for_words
from rnnformers.training.token_classification import (
    check_labels,
    is_bio_scheme,
    label_list,
    read_conllu,
    token_classification_metrics,
    tokenize_and_align_labels,
)

from conftest import SHARED_DATA


EWT = SHARED_DATA / "ud-english-ewt"

# A multiword token (1-2 "Elena's" = "Elena" + "'s"), an empty node (4.1, enhanced graph only), and BIO tags in MISC.
CONLLU = """\
# sent_id = s1
# text = Elena's tour has revived interest.
1-2	Elena's	_	_	_	_	_	_	_	_
1	Elena	Elena	PROPN	NNP	Number=Sing	3	nmod:poss	3:nmod:poss	NER=B-PER
2	's	's	PART	POS	_	1	case	1:case	NER=O
3	tour	tour	NOUN	NN	Number=Sing	5	nsubj	5:nsubj	NER=O
4	has	have	AUX	VBZ	_	5	aux	5:aux	NER=O
4.1	revived	revive	VERB	VBN	_	_	_	5:conj	CopyOf=5
5	revived	revive	VERB	VBN	_	0	root	0:root	NER=O
6	interest	interest	NOUN	NN	_	5	obj	5:obj	SpaceAfter=No|NER=O
7	.	.	PUNCT	.	_	5	punct	5:punct	NER=O

# sent_id = s2
1	New	New	PROPN	NNP	_	2	compound	2:compound	NER=B-LOC
2	York	York	PROPN	NNP	_	0	root	0:root	NER=I-LOC

"""


@pytest.fixture
def conllu_file(tmp_path):
    path = tmp_path / "tiny.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    return path


def test_multiword_tokens_and_empty_nodes_are_read_as_ud_defines_them(conllu_file):
    data = read_conllu(conllu_file)
    assert data["sent_id"] == ["s1", "s2"]
    # The words of the sentence: the multiword token's surface form and the empty node are not words.
    assert data["tokens"][0] == ["Elena", "'s", "tour", "has", "revived", "interest", "."]
    assert data["tags"][0] == ["PROPN", "PART", "NOUN", "AUX", "VERB", "NOUN", "PUNCT"]
    assert read_conllu(conllu_file, label_column="xpos")["tags"][1] == ["NNP", "NNP"]
    ner = read_conllu(conllu_file, label_column="misc:NER")
    assert ner["tags"][1] == ["B-LOC", "I-LOC"]
    assert is_bio_scheme(label_list(ner)) and not is_bio_scheme(label_list(data))


def test_bad_files_raise_errors_naming_the_file(tmp_path, conllu_file):
    with pytest.raises(ValueError, match="not found"):
        read_conllu(tmp_path / "missing.conllu")
    with pytest.raises(ValueError, match="label_column"):
        read_conllu(conllu_file, label_column="upostag")
    # A word without a value in the label column (the empty node has none, but it is skipped; this one is a word).
    no_tag = tmp_path / "no_tag.conllu"
    no_tag.write_text("# sent_id = x\n1\tHello\thello\t_\tUH\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no_tag.conllu: sentence x: words \['Hello'\] have no 'upos'"):
        read_conllu(no_tag)
    # An empty sentence: a sentence whose only lines are a multiword token range, i.e. no word.
    empty = tmp_path / "empty.conllu"
    empty.write_text("# sent_id = e\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.conllu: sentence e has no words"):
        read_conllu(empty)
    blank = tmp_path / "blank.conllu"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no sentence"):
        read_conllu(blank)


def test_a_label_outside_the_model_label_set_is_named(conllu_file):
    data = read_conllu(conllu_file)
    with pytest.raises(ValueError, match=r"dev.conllu has labels the model does not know: \['AUX', 'PART'\]"):
        check_labels(data, {"PROPN": 0, "NOUN": 1, "VERB": 2, "PUNCT": 3}, "dev.conllu")
    check_labels(data, {tag: i for i, tag in enumerate(label_list(data))}, "dev.conllu")


def test_labels_align_with_the_first_token_of_each_word(conllu_file):
    data = read_conllu(conllu_file)
    tokenizer = train_word_piece_tokenizer_for_words(["tour", "has", "New", "York", "."] * 3 + ["revived"], 40)
    label2id = {tag: i for i, tag in enumerate(label_list(data))}
    batch = {"tokens": data["tokens"], "tags": data["tags"]}
    encoding = tokenize_and_align_labels(batch, tokenizer, label2id)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"][0])
    labels = encoding["labels"][0]
    # Every word has exactly one labelled token, its first; continuations (##...) are -100.
    assert [label for label in labels if label != -100] == [label2id[tag] for tag in data["tags"][0]]
    for token, label in zip(tokens, labels):
        assert (label == -100) == token.startswith("##")
    assert any(token.startswith("##") for token in tokens)
    all_tokens = tokenize_and_align_labels(batch, tokenizer, label2id, label_all_tokens=True)["labels"][0]
    assert -100 not in all_tokens and len(all_tokens) == len(labels)


def test_metrics_score_words_and_entities():
    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    labels = np.array([[1, 2, -100, 0], [0, 1, -100, -100]])
    logits = np.zeros((2, 4, 3))
    for (row, t), label in np.ndenumerate(np.array([[1, 2, 0, 0], [0, 0, 0, 0]])):
        logits[row, t, label] = 1.0
    metrics = token_classification_metrics(id2label, entity_scores=True)(EvalPrediction(logits, labels))
    assert metrics["accuracy"] == pytest.approx(4 / 5)
    assert metrics["entity_precision"] == 1.0 and metrics["entity_recall"] == 0.5
    assert metrics["entity_f1"] == pytest.approx(2 / 3)
    assert set(token_classification_metrics(id2label, entity_scores=False)(EvalPrediction(logits, labels))) == {
        "accuracy"
    }


def test_the_bundled_ud_english_ewt_dev_file():
    dev = read_conllu(EWT / "en_ewt-ud-dev.conllu")
    assert len(dev) == 2001
    assert sum(len(words) for words in dev["tokens"]) == 25_147
    assert len(label_list(dev)) == 17
