"""Untrained-but-real model folders for the demo app (`make app`), built in seconds from the bundled data.

Each builder makes the tokenizer the family's training script would make (`rnnformers.tokenization`, on a sample of
the texts given), a model of the family's config with random weights, and saves both with a model card that says
"Untrained demo model" and holds no evaluation: the app then shows "Measured quality: none". They stand in for the
trained folders (`make demo`, the README's training commands) so that every tab of the app can be clicked; their
output is noise.

    python -m rnnformers.demo_models --output_dir outputs/app --data_dir ../shared/data [--only char_rnn tagger]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch

from rnnformers import (
    CharRNNConfig,
    CharRNNForCausalLM,
    GRUConfig,
    GRUForSequenceClassification,
    RNNTaggerConfig,
    RNNTaggerForTokenClassification,
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
)
from rnnformers.tokenization import (
    build_char_tokenizer,
    train_subword_tokenizer,
    train_word_piece_tokenizer_for_words,
)
from rnnformers.training.modelcard import CardInfo, write_model_card


UNTRAINED = "Untrained demo model"
FOLDER_NAMES = {"char_rnn": "char-rnn", "classifier": "gru-sentiment", "translator": "nmt-en-es", "tagger": "tagger"}


def _card(folder: Path, title: str, what: str, task_type: str, usage: str) -> None:
    write_model_card(folder, CardInfo(
        model_name=title,
        description=(f"**{UNTRAINED}**: {what} with random weights, built by `make app` "
                     "(`rnnformers.demo_models`) so that the demo app has a model to serve. Nothing trained or "
                     "measured it: its output is noise."),
        usage=usage, training="Not trained.", task_type=task_type, tags=["untrained-demo"],
    ))


def _save(model, tokenizer, folder: str | Path) -> Path:
    folder = Path(folder)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_char_rnn(folder: str | Path, text: str, seed: int = 0, **config) -> Path:
    """A `CharRNNForCausalLM` over the characters of `text` (the chapter's defaults unless `config` overrides)."""
    tokenizer = build_char_tokenizer(text)
    torch.manual_seed(seed)
    model = CharRNNForCausalLM(CharRNNConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                             unk_token_id=tokenizer.unk_token_id, **config))
    folder = _save(model, tokenizer, folder)
    _card(folder, "char-rnn (untrained demo)", "a char-RNN over the corpus's characters", "text-generation",
          f'from transformers import pipeline\npipeline("text-generation", model="{folder}")("ROMEO:")')
    return folder


def build_classifier(folder: str | Path, texts: list[str], vocab_size: int = 2000, seed: int = 0,
                     class_names=("NEGATIVE", "POSITIVE"), **config) -> Path:
    """A `GRUForSequenceClassification` with a lower-cased byte-level BPE trained on `texts`."""
    tokenizer = train_subword_tokenizer(texts, vocab_size=vocab_size, lowercase=True)
    id2label = dict(enumerate(class_names))
    torch.manual_seed(seed)
    model = GRUForSequenceClassification(GRUConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, id2label=id2label,
        label2id={label: i for i, label in id2label.items()}, **config))
    folder = _save(model, tokenizer, folder)
    _card(folder, "gru-sentiment (untrained demo)", "a GRU sentiment classifier", "text-classification",
          f'from transformers import pipeline\npipeline("text-classification", model="{folder}")("Great film!")')
    return folder


def build_translator(folder: str | Path, pairs: list[tuple[str, str]], vocab_size: int = 2000, seed: int = 0,
                     max_target_length: int = 64, **config) -> Path:
    """A `Seq2SeqGRUAttention` with one byte-level BPE (with `<s>`/`</s>`) trained on both sides of `pairs`, saved
    through the "rnn-translation" pipeline as `scripts/train_translation.py` saves it (`generate()` stops after
    `max_target_length` tokens, as the script's `--max_target_length`)."""
    from transformers import pipeline

    tokenizer = train_subword_tokenizer([text for pair in pairs for text in pair], vocab_size=vocab_size,
                                        add_bos_eos=True, model_max_length=64)
    torch.manual_seed(seed)
    model = Seq2SeqGRUAttention(Seq2SeqGRUAttentionConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, unk_token_id=tokenizer.unk_token_id,
        decoder_start_token_id=tokenizer.bos_token_id, **config)).eval()
    model.generation_config.max_length = max_target_length + 1  # + the decoder start token
    folder = Path(folder)
    pipeline("rnn-translation", model=model, tokenizer=tokenizer).save_pretrained(folder)
    _card(folder, "nmt-en-es (untrained demo)", "a GRU encoder-decoder with attention (English→Spanish)",
          "translation", f'from transformers import pipeline\npipeline("rnn-translation", model="{folder}")("Hi.")')
    return folder


def build_tagger(folder: str | Path, sentences: list[list[str]], labels: list[str], vocab_size: int = 2000,
                 seed: int = 0, **config) -> Path:
    """An `RNNTaggerForTokenClassification` (a Bi-LSTM-CRF unless `config` says `use_crf=False`) with a WordPiece
    trained on the words of `sentences`, over `labels`."""
    tokenizer = train_word_piece_tokenizer_for_words((word for sentence in sentences for word in sentence),
                                                     vocab_size=vocab_size)
    id2label = dict(enumerate(labels))
    torch.manual_seed(seed)
    model = RNNTaggerForTokenClassification(RNNTaggerConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, unk_token_id=tokenizer.unk_token_id,
        id2label=id2label, label2id={label: i for i, label in id2label.items()}, **{"use_crf": True, **config}))
    folder = _save(model, tokenizer, folder)
    _card(folder, "tagger (untrained demo)", "a POS tagger", "token-classification",
          f'from transformers import pipeline\npipeline("token-classification", model="{folder}")("I saw it .")')
    return folder


def build_demo_models(output_dir: str | Path, data_dir: str | Path, only: list[str] | None = None,
                      overwrite: bool = False) -> dict[str, Path]:
    """The four families' untrained folders under `output_dir` (names: `FOLDER_NAMES`), tokenizers trained on samples
    of the bundled data in `data_dir` (Tiny Shakespeare, IMDb, the Tatoeba English-Spanish pairs, UD English EWT).
    A folder that already holds a model is kept as it is unless `overwrite`."""
    import pandas as pd

    from rnnformers.training.token_classification import label_list, read_conllu

    output_dir, data_dir = Path(output_dir), Path(data_dir)
    only = list(only or FOLDER_NAMES)
    unknown = sorted(set(only) - set(FOLDER_NAMES))
    if unknown:
        raise ValueError(f"only: unknown models {unknown}; choose among {sorted(FOLDER_NAMES)}.")
    built = {}
    for name in only:
        folder = output_dir / FOLDER_NAMES[name]
        if (folder / "config.json").exists() and not overwrite:
            built[name] = folder
        elif name == "char_rnn":
            built[name] = build_char_rnn(folder, (data_dir / "tinyshakespeare" / "input.txt").read_text("utf-8"))
        elif name == "classifier":
            reviews = pd.read_parquet(data_dir / "imdb" / "train.parquet", columns=["text"])["text"][:2000].tolist()
            built[name] = build_classifier(folder, reviews)
        elif name == "translator":
            with open(data_dir / "spa-eng" / "spa-eng.tsv", encoding="utf-8") as lines:
                pairs = [tuple(line.rstrip("\n").split("\t")[:2]) for line in itertools.islice(lines, 0, None, 10)]
            built[name] = build_translator(folder, [pair for pair in pairs if len(pair) == 2], embedding_dim=128,
                                           hidden_size=128)
        else:
            sentences = read_conllu(data_dir / "ud-english-ewt" / "en_ewt-ud-dev.conllu")
            built[name] = build_tagger(folder, sentences["tokens"], label_list(sentences), hidden_size=128)
    return built


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="outputs/app")
    parser.add_argument("--data_dir", default="../shared/data")
    parser.add_argument("--only", nargs="*", default=None, choices=sorted(FOLDER_NAMES),
                        help="build these only (default: all four)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild folders that already hold a model")
    args = parser.parse_args(argv)
    for name, folder in build_demo_models(args.output_dir, args.data_dir, args.only, args.overwrite).items():
        print(f"{name}: {folder} ({UNTRAINED.lower()})")


if __name__ == "__main__":
    main()
