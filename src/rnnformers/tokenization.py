"""Building tokenizers with the `tokenizers` library, saved as a plain `tokenizer.json` that `AutoTokenizer` loads.

No custom tokenizer class is involved: every tokenizer here is a `tokenizers.Tokenizer` wrapped in
`PreTrainedTokenizerFast`, so a saved folder needs neither rnnformers nor remote code to load its tokenizer.
"""

from collections.abc import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast


PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"


class _TextBatches:
    """Batches of `texts` for `train_from_iterator`, checking that each is a string and counting the non-blank ones."""

    def __init__(self, texts: Iterable[str] | str, batch_size: int = 1000):
        self.texts = [texts] if isinstance(texts, str) else texts
        self.batch_size = batch_size
        self.non_blank = 0

    def __iter__(self) -> Iterator[list[str]]:
        batch = []
        for text in self.texts:
            if not isinstance(text, str):
                raise ValueError(f"texts must be strings, got {type(text).__name__}.")
            self.non_blank += bool(text.strip())
            batch.append(text)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def build_char_tokenizer(
    texts: Iterable[str] | str,
    lowercase: bool = False,
    add_bos_eos: bool = False,
    padding_side: str = "left",
    model_max_length: int | None = None,
) -> PreTrainedTokenizerFast:
    """A character-level tokenizer whose vocabulary is every character of `texts`, plus `<pad>` (id 0) and `<unk>`.

    As in the chapter, `lowercase=True` folds case (Tiny Shakespeare: 39 characters); cased it keeps 65. Characters
    never seen in `texts` encode as `<unk>` rather than failing. Padding is on the left, as generation expects.

    Args:
        texts: the corpus, as one string or an iterable of strings (e.g. a `datasets` column).
        lowercase: lower-case the text before splitting it into characters.
        add_bos_eos: add `<s>`/`</s>` (ids 2 and 3) to the vocabulary and around each text, as a sequence-to-sequence
            model's source and target need (`train_translation.py --tokenizer_type char`).
        padding_side: `"left"` (generation from a prompt) or `"right"` (a sequence-to-sequence model's labels, which
            `DataCollatorForSeq2Seq` pads on this side).
        model_max_length: recorded in the tokenizer so that `truncation=True` cuts there.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    if isinstance(texts, str):
        # A million characters at a time: pre-tokenizing tens of millions of characters at once takes gigabytes, and
        # cutting a text between characters changes nothing for single-character tokens.
        texts = [texts[start : start + 1_000_000] for start in range(0, len(texts), 1_000_000)] or [texts]
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    # One token per character; `(?m)` makes `.` match newlines too (Oniguruma syntax).
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("(?m)."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    special_tokens = [PAD_TOKEN, UNK_TOKEN] + ([BOS_TOKEN, EOS_TOKEN] if add_bos_eos else [])
    trainer = trainers.WordLevelTrainer(special_tokens=special_tokens, min_frequency=1, show_progress=False)
    tokenizer.train_from_iterator(_TextBatches(texts), trainer=trainer)
    if tokenizer.get_vocab_size() <= len(special_tokens):
        raise ValueError("texts hold no characters to build a vocabulary from.")
    extra = {}
    if add_bos_eos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{BOS_TOKEN} $A {EOS_TOKEN}",
            special_tokens=[(token, tokenizer.token_to_id(token)) for token in (BOS_TOKEN, EOS_TOKEN)],
        )
        extra = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN}
    if model_max_length is not None:
        extra["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        padding_side=padding_side,
        clean_up_tokenization_spaces=False,
        **extra,
    )


def train_subword_tokenizer(
    texts: Iterable[str] | str,
    algorithm: str = "bpe",
    vocab_size: int = 10_000,
    lowercase: bool = False,
    min_frequency: int = 2,
    add_bos_eos: bool = False,
    model_max_length: int | None = None,
) -> PreTrainedTokenizerFast:
    """Trains a BPE or WordPiece tokenizer on `texts` with the `tokenizers` trainers.

    Special tokens: `<pad>` (id 0), `<unk>` (id 1), and with `add_bos_eos=True` also `<s>` and `</s>`, which are then
    wrapped around every encoded text (a sequence-to-sequence model's source and target).

    Args:
        texts: one string or an iterable of strings (e.g. a `datasets` column).
        algorithm: `"bpe"` (byte-level, no unknown characters) or `"wordpiece"`.
        vocab_size: size of the vocabulary, special tokens included.
        lowercase: lower-case the text first.
        min_frequency: minimum count of a pair to be merged.
        add_bos_eos: add `<s>`/`</s>` to the vocabulary and around each text.
        model_max_length: recorded in the tokenizer so that `truncation=True` cuts there.
    """
    if algorithm not in ("bpe", "wordpiece"):
        raise ValueError(f"algorithm must be 'bpe' or 'wordpiece', got {algorithm!r}.")
    if not isinstance(vocab_size, int) or vocab_size < 10:
        raise ValueError(f"vocab_size must be an integer of at least 10, got {vocab_size!r}.")
    special_tokens = [PAD_TOKEN, UNK_TOKEN] + ([BOS_TOKEN, EOS_TOKEN] if add_bos_eos else [])

    if algorithm == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK_TOKEN))
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens, show_progress=False
        )
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    batches = _TextBatches(texts)
    tokenizer.train_from_iterator(batches, trainer=trainer)
    if batches.non_blank == 0:
        raise ValueError("no text to train the tokenizer on: the texts are missing or all empty.")
    if add_bos_eos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{BOS_TOKEN} $A {EOS_TOKEN}",
            special_tokens=[(token, tokenizer.token_to_id(token)) for token in (BOS_TOKEN, EOS_TOKEN)],
        )
    extra = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN} if add_bos_eos else {}
    if model_max_length is not None:
        extra["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD_TOKEN, unk_token=UNK_TOKEN, **extra)


__all__ = ["build_char_tokenizer", "train_subword_tokenizer", "PAD_TOKEN", "UNK_TOKEN", "BOS_TOKEN", "EOS_TOKEN"]


def train_word_piece_tokenizer_for_words(
    words: Iterable[str], vocab_size: int = 16_000, min_frequency: int = 1
) -> PreTrainedTokenizerFast:
    """Trains a cased WordPiece tokenizer for text that comes split into words (a tagger's input, CoNLL-U's words).

    Words are split on whitespace only (punctuation inside a word, as in UD's `n't` or `e-mail`, stays in it), then
    into the word's frequent pieces: frequent words are one token, rarer ones a first piece and `##`-continuations, so
    no word is ever unknown as a whole. The `##` prefix is what lets `pipeline("token-classification")` tell a word's
    first token from its continuations and merge them with `aggregation_strategy`. `<pad>` is id 0, `<unk>` id 1.

    Args:
        words: the training words (one word per item; a string holding spaces counts as several words).
        vocab_size: size of the vocabulary, special tokens included.
        min_frequency: minimum count of a piece to enter the vocabulary.
    """
    if not isinstance(vocab_size, int) or vocab_size < 10:
        raise ValueError(f"vocab_size must be an integer of at least 10, got {vocab_size!r}.")
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[PAD_TOKEN, UNK_TOKEN], show_progress=False
    )
    tokenizer.train_from_iterator(_TextBatches(words), trainer=trainer)
    if tokenizer.get_vocab_size() <= 2:
        raise ValueError("words hold no text to build a vocabulary from.")
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD_TOKEN, unk_token=UNK_TOKEN)


__all__.append("train_word_piece_tokenizer_for_words")
