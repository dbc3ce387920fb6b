"""The demo app (`python app.py`): one Gradio tab per model family, over saved model folders.

Everything the page does is a plain function of this module, callable without Gradio (the tests call them directly):

- `load_served(slot, folder)` loads the folder a tab serves, or explains on the page why it cannot (a missing folder, a
  folder of another family: `config.model_type` and `architectures` are checked), never a traceback;
- `generate_stream(...)` streams char-RNN text with transformers' `TextIteratorStreamer` (generation in a thread);
- `classify(...)` gives both class probabilities and each word's leave-one-out effect on the predicted class;
- `translate(...)` gives the translation and its attention matrix (target tokens × source tokens), as a heatmap;
- `tag(...)` gives one POS tag per word, and says whether the CRF's Viterbi path decoded it (`config.use_crf`);
- `quality_markdown(folder)` reads the measured figures from the folder's model card (its "Evaluation" table, which
  names the split) or, without a card, from its `*_results.json` files.

`build_demo(...)` assembles the page (Gradio is imported there only: it is the optional `app` extra, not a dependency
of the library) and `main(argv)` parses the command line of the root `app.py`.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

import rnnformers  # noqa: F401  (registers the model families with the Auto classes)
from rnnformers.training.translation import attention_matrix


class ModelUnavailable(ValueError):
    """A tab's model could not be loaded; the message is written for the page."""


@dataclass(frozen=True)
class Slot:
    """What one tab serves: its command-line flag, the family it accepts and how to load it."""

    name: str  # the flag, without dashes
    title: str
    description: str  # what the family is, for the wrong-family message
    auto_class: type
    accepts: dict  # model_type -> the head classes (config.architectures) accepted, None for any
    made_by: str  # which script saves such folders
    default_folder: str  # "./...": a local path, never looked up on the Hub


SLOTS = {
    slot.name: slot
    for slot in (
        Slot("char_rnn", "Generate", "a char-RNN language model (model_type char_rnn)", AutoModelForCausalLM,
             {"char_rnn": None}, "scripts/train_char_rnn.py", "./outputs/char-rnn-shakespeare"),
        Slot("classifier", "Classify", "a GRU sentiment classifier (model_type gru, GRUForSequenceClassification)",
             AutoModelForSequenceClassification, {"gru": {"GRUForSequenceClassification"}},
             "scripts/train_sentiment.py", "./outputs/gru-imdb"),
        Slot("translator", "Translate", "a GRU encoder-decoder with attention (model_type seq2seq_gru_attention)",
             AutoModelForSeq2SeqLM, {"seq2seq_gru_attention": None}, "scripts/train_translation.py",
             "./outputs/nmt-en-es-v3"),
        Slot("tagger", "Tag", "a POS tagger (model_type rnn_tagger, or gru with GRUForTokenClassification)",
             AutoModelForTokenClassification, {"rnn_tagger": None, "gru": {"GRUForTokenClassification"}},
             "scripts/train_tagger.py", "./outputs/tagger-ewt-char"),
    )
}


@dataclass
class Served:
    """One tab's model: loaded (`model`, `tokenizer`), or `error`, a message for the page."""

    slot: Slot
    folder: str
    model: object | None = None
    tokenizer: object | None = None
    error: str | None = None
    quality: str = ""
    config: object | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def require(self):
        if self.error is not None:
            raise ModelUnavailable(self.error)
        return self.model, self.tokenizer

    def header_markdown(self) -> str:
        lines = [f"**Model folder:** `{self.folder}`"]
        if self.error is not None:
            lines.append(f"⚠️ **No model on this tab.** {self.error}")
        else:
            lines.append(f"{type(self.model).__name__}, {self.model.num_parameters():,} parameters.")
            lines.append(self.quality)
        return "\n\n".join(lines)


def _is_local_name(folder: str) -> bool:
    """Whether `folder` can only be a local path (a Hub id is "name" or "owner/name" with no such local folder)."""
    path = Path(folder)
    if path.exists() or folder.startswith((".", "/", "~")) or folder.count("/") > 1:
        return True
    return folder.count("/") == 1 and Path(folder.split("/")[0]).is_dir()


def load_served(slot_name: str, folder: str | None) -> Served:
    """Loads the model `folder` holds for the tab `slot_name` ("char_rnn", "classifier", "translator", "tagger").

    Never raises for a bad folder: a `Served` with `error` set says what is wrong (nothing there, no config, another
    family or head, a load failure) and which flag and script give a right one.
    """
    slot = SLOTS[slot_name]
    folder = str(folder) if folder else ""
    served = Served(slot, folder or "(none given)")
    flag = f"`--{slot.name}`"
    if not folder:
        served.error = f"No folder given: pass {flag} a folder saved by `{slot.made_by}`."
        return served
    if _is_local_name(folder) and not Path(folder).expanduser().exists():
        served.error = (f"`{folder}` does not exist. Pass {flag} a folder saved by `{slot.made_by}` "
                        "(`make app` builds small ones).")
        return served
    try:
        config = AutoConfig.from_pretrained(folder)
    except Exception as error:  # noqa: BLE001  (any failure becomes a message on the page)
        served.error = f"`{folder}`: no model config could be loaded from it ({type(error).__name__}: {error})."
        return served
    model_type = getattr(config, "model_type", None)
    heads = set(getattr(config, "architectures", None) or [])
    if model_type not in slot.accepts:
        served.error = (f"`{folder}` holds a model of another family (model_type `{model_type}`, "
                        f"{', '.join(sorted(heads)) or 'no architectures'}): this tab serves "
                        f"{slot.description}. Pass {flag} a folder saved by `{slot.made_by}`.")
        return served
    accepted_heads = slot.accepts[model_type]
    if accepted_heads is not None and heads and not heads & accepted_heads:
        served.error = (f"`{folder}` holds a `{model_type}` model with another head "
                        f"({', '.join(sorted(heads))}): this tab serves {slot.description}. "
                        f"Pass {flag} a folder saved by `{slot.made_by}`.")
        return served
    try:
        served.tokenizer = AutoTokenizer.from_pretrained(folder)
        served.model = slot.auto_class.from_pretrained(folder).eval()
    except Exception as error:  # noqa: BLE001
        served.error = f"`{folder}` could not be loaded ({type(error).__name__}: {error})."
        served.model = served.tokenizer = None
        return served
    served.config = served.model.config
    served.quality = quality_markdown(folder)
    return served


# ---------------------------------------------------------------------------------------------------------- quality

_METRIC_WORDS = ("loss", "perplexity", "accuracy", "f1", "bleu", "chrf", "precision", "recall", "bits")


def _card_evaluation_rows(card_text: str) -> list[str]:
    """The rows of the card's "## Evaluation" table (`| metric | value | data |`), header included."""
    match = re.search(r"^## Evaluation\s*\n(.*?)(?=^## |\Z)", card_text, flags=re.MULTILINE | re.DOTALL)
    if not match:
        return []
    return [line for line in match.group(1).splitlines() if line.startswith("|")]


def quality_markdown(folder: str | Path) -> str:
    """The measured quality of the model in `folder`, as markdown: the evaluation table of its model card (which names
    the split of each figure), else the figures of its `*_results.json`; with how long it was trained, from
    `train_results.json`. A folder with neither says that nothing measured it."""
    folder = Path(folder)
    parts = []
    card = folder / "README.md"
    card_text = card.read_text(encoding="utf-8") if card.is_file() else ""
    description = re.search(r"^# [^\n]*\n\n(.+?)\n\n", card_text, flags=re.MULTILINE | re.DOTALL)
    if description:  # the card's first paragraph: what the model is ("Untrained demo model: ..." for make app's)
        parts.append(" ".join(description.group(1).split()))
    rows = _card_evaluation_rows(card_text)
    if len(rows) > 2:  # header, separator, at least one figure
        parts.append("**Measured quality** (from the folder's model card, `README.md`):\n\n" + "\n".join(rows))
    else:
        figures = []
        for results in sorted(folder.glob("*_results.json")):
            if results.name == "train_results.json" or results.name == "all_results.json":
                continue
            try:
                metrics = json.loads(results.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and any(word in key for word in _METRIC_WORDS):
                    figures.append(f"| {key} | {value:.4g} | `{results.name}` |")
        if figures:
            parts.append("**Measured quality** (from the folder's `*_results.json`):\n\n| metric | value | file |\n"
                         "|---|---|---|\n" + "\n".join(figures))
        else:
            parts.append("**Measured quality: none.** The folder has no model card with an evaluation table and no "
                         "`*_results.json`: nothing measured this model (an untrained or unscored model).")
    train_results = folder / "train_results.json"
    if train_results.is_file():
        try:
            train = json.loads(train_results.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            train = {}
        runtime, epoch = train.get("train_runtime"), train.get("epoch")
        if isinstance(runtime, (int, float)):
            note = f"Trained for {runtime:.0f} s" + (f" ({epoch:.3g} epochs)" if isinstance(epoch, float) else "")
            if runtime < 120:
                note += ": a quick demo model, far from the project's trained models (README.md has their figures)"
            parts.append(note + ".")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------------------------- generate

class _StopOnEvent(StoppingCriteria):
    """Stops `generate()` once `event` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TokenStreamer(TextIteratorStreamer):
    """`TextIteratorStreamer` that hands over every token as soon as it is generated (the base class waits for a space
    or a newline, i.e. streams word by word); exact for a character tokenizer, one character per token."""

    def put(self, value):
        if value.dim() > 1:
            if value.shape[0] > 1:
                raise ValueError("the streamer takes one sequence at a time.")
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        text = self.tokenizer.decode(value.tolist(), **self.decode_kwargs)
        if text:
            self.on_finalized_text(text)

    def end(self):
        self.on_finalized_text("", stream_end=True)


def generation_kwargs(max_new_tokens: int, do_sample: bool, temperature: float, top_k: int, top_p: float,
                      num_beams: int) -> dict:
    """`generate()` arguments from the tab's controls, checked as `rnnformers-generate` checks its flags."""
    max_new_tokens, num_beams, top_k = int(max_new_tokens), int(num_beams), int(top_k)
    if max_new_tokens < 1:
        raise ValueError(f"max new characters must be at least 1, got {max_new_tokens}.")
    if num_beams < 1:
        raise ValueError(f"beams must be at least 1, got {num_beams}.")
    kwargs = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, "do_sample": bool(do_sample)}
    if do_sample:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        if not 0 < top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], got {top_p}.")
        if top_k < 0:
            raise ValueError(f"top-k must be at least 0 (0: off), got {top_k}.")
        kwargs.update(temperature=float(temperature), top_k=top_k, top_p=float(top_p))  # top_k=0: off
    return kwargs


def generate_stream(served: Served, prompt: str, max_new_tokens: int = 200, do_sample: bool = True,
                    temperature: float = 0.8, top_k: int = 0, top_p: float = 1.0, num_beams: int = 1,
                    seed: int | None = 42) -> Iterator[str]:
    """Yields the prompt followed by the text generated so far, one more character each time.

    Generation runs in a thread and hands its tokens to a `TextIteratorStreamer`. Beam search has no "text so far" (its
    best beam changes until the end; transformers refuses a streamer with `num_beams > 1`): it yields once, at the end.
    `seed` (None: not set) makes sampling repeatable.
    """
    model, tokenizer = served.require()
    if not isinstance(prompt, str) or prompt == "":
        raise ValueError("the prompt is empty: a char-RNN needs at least one character to start from.")
    kwargs = generation_kwargs(max_new_tokens, do_sample, temperature, top_k, top_p, num_beams)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    if seed is not None:
        torch.manual_seed(int(seed))
    if kwargs["num_beams"] > 1:
        with torch.no_grad():
            output = model.generate(**inputs, pad_token_id=tokenizer.pad_token_id, **kwargs)
        yield prompt + tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return
    streamer = _TokenStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
    failure = []
    # Set when the page stops reading (a closed tab, a cancelled job): generation then stops at its next token
    # instead of running on in its thread while the next request starts.
    abandoned = threading.Event()
    stop_when_abandoned = StoppingCriteriaList([_StopOnEvent(abandoned)])

    def run():
        try:
            with torch.no_grad():
                model.generate(**inputs, pad_token_id=tokenizer.pad_token_id, streamer=streamer,
                               stopping_criteria=stop_when_abandoned, **kwargs)
        except Exception as error:  # noqa: BLE001  (re-raised in the caller's thread)
            failure.append(error)
            streamer.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    text = prompt
    try:
        for piece in streamer:
            if piece:  # the end of the stream comes as an empty piece
                text += piece
                yield text
    finally:
        abandoned.set()
        thread.join()
    if failure:
        raise failure[0]


# --------------------------------------------------------------------------------------------------------- classify

def _class_probabilities(model, tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    rows = []
    max_length = getattr(tokenizer, "model_max_length", None)
    truncation = isinstance(max_length, int) and max_length < 1_000_000
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True, truncation=truncation)
        with torch.no_grad():
            logits = model(**batch).logits.float()
        rows.append(torch.softmax(logits, dim=-1).numpy())
    return np.concatenate(rows)


def classify(
    served: Served, text: str, max_words: int = 300
) -> tuple[dict[str, float], list[tuple[str, float | None]]]:
    """The class probabilities of `text` (`{label: probability}`, summing to 1), and its words with each one's effect
    on the predicted class (leave-one-out: the predicted class's probability with the whole text minus without that
    word, so > 0 pushed towards the prediction, < 0 against it; scaled to [-1, 1] by the largest effect).

    The highlights are `(word, effect)` pairs separated by `(" ", None)`, as `gr.HighlightedText` shows them; words past
    `max_words` are kept but not scored (`None`): each scored word costs one more pass over the text.
    """
    model, tokenizer = served.require()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty: give a sentence or a review to classify.")
    words = text.split()
    scored = min(len(words), max_words)
    variants = [text] + [" ".join(words[:i] + words[i + 1:]) for i in range(scored)]
    if len(words) == 1:
        variants = [text]  # without its only word nothing is left to read
    probabilities = _class_probabilities(model, tokenizer, variants)
    labels = [model.config.id2label[i] for i in range(probabilities.shape[1])]
    full = probabilities[0]
    predicted = int(full.argmax())
    effects = full[predicted] - probabilities[1:, predicted] if len(words) > 1 else np.array([1.0])
    scale = float(np.abs(effects).max()) or 1.0
    highlights: list[tuple[str, float | None]] = []
    for i, word in enumerate(words):
        if i:
            highlights.append((" ", None))
        highlights.append((word, round(float(effects[i]) / scale, 4) if i < scored else None))
    return {label: float(p) for label, p in zip(labels, full)}, highlights


# -------------------------------------------------------------------------------------------------------- translate

@dataclass
class Translation:
    text: str
    source_tokens: list[str]
    target_tokens: list[str]
    attention: np.ndarray  # [target tokens, source tokens], each row sums to 1 over the source


def translate(served: Served, text: str, num_beams: int = 5) -> Translation:
    """The model's translation of `text` (beam search with `num_beams`, through the "rnn-translation" pipeline's
    decoding: `generate()` and the tokenizer), and the decoder's attention over the source while it wrote it."""
    model, tokenizer = served.require()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty: give an English sentence to translate.")
    num_beams = int(num_beams)
    if num_beams < 1:
        raise ValueError(f"beams must be at least 1, got {num_beams}.")
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, num_beams=num_beams)
    translation = tokenizer.decode(output[0], skip_special_tokens=True).strip()
    # The weights of that translation, read in one teacher-forced pass (not a second beam search).
    source_tokens, target_tokens, weights = attention_matrix(model, tokenizer, text, None, num_beams,
                                                             generated=output[0])
    return Translation(translation, source_tokens, target_tokens, np.asarray(weights))


def attention_figure(result: Translation):
    """The attention matrix as an interactive plotly heatmap (hover: the two tokens and the weight); a matplotlib
    figure where plotly is not installed."""
    # Unique labels: a token repeated in a sentence would otherwise share one row or column of the heatmap.
    def labelled(tokens):
        return [f"{i}: {token}" for i, token in enumerate(tokens)]

    source, target = labelled(result.source_tokens), labelled(result.target_tokens)
    try:
        import plotly.graph_objects as go
    except ImportError:  # matplotlib's labels are plain text
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(0.5 * len(source) + 2, 0.5 * len(target) + 1.5))
        image = ax.imshow(result.attention, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
        ax.set_yticks(range(len(target)), target)
        ax.set_xlabel("source (English)")
        ax.set_ylabel("target (Spanish)")
        fig.colorbar(image, ax=ax, fraction=0.04)
        fig.tight_layout()
        return fig
    # plotly reads labels as HTML: "<s>" would strike the rest through.
    source, target = ([html.escape(label) for label in labels] for labels in (source, target))
    fig = go.Figure(go.Heatmap(
        z=result.attention, x=source, y=target, zmin=0, zmax=1, colorscale="Viridis",
        hovertemplate="target %{y}<br>source %{x}<br>weight %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(xaxis_title="source (English)", yaxis_title="target (Spanish)", yaxis_autorange="reversed",
                      margin=dict(l=10, r=10, t=30, b=10), height=max(300, 28 * len(target) + 150))
    return fig


# -------------------------------------------------------------------------------------------------------------- tag

def tag(served: Served, text: str) -> tuple[list[tuple[str, str]], bool]:
    """One tag per word of `text` (split at spaces, as the treebank's words are: `did n't`, `station .`), each word's
    tag being its first token's, and whether the CRF's Viterbi path decoded them (`config.use_crf`)."""
    model, tokenizer = served.require()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty: give a sentence to tag.")
    words = text.split()
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    use_crf = bool(getattr(model.config, "use_crf", False))
    with torch.no_grad():
        if hasattr(model, "decode"):  # the rnn_tagger family: the Viterbi path with a CRF, the argmax without
            label_ids = model.decode(encoding["input_ids"], encoding["attention_mask"])[0]
        else:
            label_ids = model(**encoding).logits[0].argmax(dim=-1).tolist()
    tags, seen = [], set()
    for position, word_id in enumerate(encoding.word_ids(0)):
        if word_id is not None and word_id not in seen:
            seen.add(word_id)
            tags.append((words[word_id], model.config.id2label[int(label_ids[position])]))
    if len(tags) != len(words):
        raise ValueError(f"the tokenizer gave tokens for {len(tags)} of the {len(words)} words.")
    return tags, use_crf


def tag_highlights(tags: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    highlights = []
    for i, pair in enumerate(tags):
        if i:
            highlights.append((" ", None))
        highlights.append(pair)
    return highlights


def crf_markdown(served: Served) -> str:
    if not served.ok:
        return ""
    if getattr(served.model.config, "use_crf", False):
        return "Decoding: **the CRF's Viterbi path** (config `use_crf=True`): the best tag sequence as a whole."
    return "Decoding: **each token's most likely tag** (config `use_crf=False`: no CRF, no Viterbi path)."


# ------------------------------------------------------------------------------------------------------------- page

def build_demo(char_rnn: str | None, classifier: str | None, translator: str | None, tagger: str | None):
    """The Gradio page over the four folders (any of them missing or wrong: its tab says so and shows no controls)."""
    import gradio as gr

    served = {name: load_served(name, folder) for name, folder in
              (("char_rnn", char_rnn), ("classifier", classifier), ("translator", translator), ("tagger", tagger))}

    def page_error(function):
        """Bad input or a missing model: a message on the page (gr.Error), not a traceback."""
        def wrapped(*args):
            try:
                result = function(*args)
                if hasattr(result, "__next__"):
                    yield from result
                else:
                    yield result
            except ValueError as error:
                raise gr.Error(str(error)) from error
        return wrapped

    with gr.Blocks(title="rnnformers demo") as demo:
        gr.Markdown("# rnnformers\nClassic recurrent NLP models as Hugging Face models: each tab names the folder it "
                    "serves and the model's measured quality.")
        with gr.Tab("Generate"):
            s = served["char_rnn"]
            gr.Markdown(s.header_markdown(), elem_id="char_rnn-header")
            with gr.Column(visible=s.ok):
                prompt = gr.Textbox(label="Prompt", value="ROMEO:", elem_id="prompt")
                with gr.Row():
                    max_new = gr.Slider(1, 1000, value=200, step=1, label="Max new characters",
                                        elem_id="generate-max-new")
                    sample = gr.Checkbox(value=True, label="Sample (off: greedy / beam search)")
                    seed = gr.Number(value=42, precision=0, label="Seed")
                with gr.Row():
                    temperature = gr.Slider(0.05, 2.0, value=0.8, step=0.05, label="Temperature")
                    top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k (0: off)")
                    top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p")
                    beams = gr.Slider(1, 10, value=1, step=1, label="Beams (more than 1: shown at the end)")
                generate_button = gr.Button("Generate", variant="primary", elem_id="generate-button")
                generated = gr.Textbox(label="Generated text", lines=10, elem_id="generated")
            generate_button.click(
                page_error(lambda *a: generate_stream(s, *a)),
                [prompt, max_new, sample, temperature, top_k, top_p, beams, seed], generated)

        with gr.Tab("Classify"):
            c = served["classifier"]
            gr.Markdown(c.header_markdown(), elem_id="classifier-header")
            with gr.Column(visible=c.ok):
                review = gr.Textbox(label="Review", value="A wonderful film with a great cast, though a bit too long.",
                                    lines=3, elem_id="review")
                classify_button = gr.Button("Classify", variant="primary", elem_id="classify-button")
                probabilities = gr.Label(label="Class probabilities", num_top_classes=2, elem_id="probabilities")
                words = gr.HighlightedText(
                    label="Which words pushed it (leave-one-out: + towards the predicted class, − against it)",
                    color_map=None, show_legend=False, elem_id="word-effects")
            classify_button.click(page_error(lambda *a: classify(c, *a)), [review], [probabilities, words])

        with gr.Tab("Translate"):
            t = served["translator"]
            gr.Markdown(t.header_markdown(), elem_id="translator-header")
            with gr.Column(visible=t.ok):
                source = gr.Textbox(label="English", value="I like to play soccer with my friends.", elem_id="source")
                translate_beams = gr.Slider(1, 10, value=5, step=1, label="Beams")
                translate_button = gr.Button("Translate", variant="primary", elem_id="translate-button")
                translation = gr.Textbox(label="Spanish", elem_id="translation")
                heatmap = gr.Plot(label="Attention (rows: Spanish tokens written, columns: English tokens read)",
                                  elem_id="attention")

            def translate_page(text, beam_count):
                result = translate(t, text, beam_count)
                return result.text, attention_figure(result)

            translate_button.click(page_error(translate_page), [source, translate_beams], [translation, heatmap])

        with gr.Tab("Tag"):
            g = served["tagger"]
            gr.Markdown(g.header_markdown() + ("\n\n" + crf_markdown(g) if g.ok else ""), elem_id="tagger-header")
            with gr.Column(visible=g.ok):
                sentence = gr.Textbox(label="Sentence (words separated by spaces, as UD writes them: did n't, end .)",
                                      value="I did n't see the old man at the station .", elem_id="sentence")
                tag_button = gr.Button("Tag", variant="primary", elem_id="tag-button")
                tagged = gr.HighlightedText(label="Universal POS tags", show_legend=False, elem_id="tags")

            def tag_page(text):
                return tag_highlights(tag(g, text)[0])

            tag_button.click(page_error(tag_page), [sentence], [tagged])
    return demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="The rnnformers demo app: one tab per model folder.")
    for slot in SLOTS.values():
        parser.add_argument(f"--{slot.name}", default=slot.default_folder,
                            help=f"{slot.title} tab: a folder saved by {slot.made_by} (default: {slot.default_folder})")
    parser.add_argument("--host", default=None,
                        help="address to serve on (default: Gradio's, 127.0.0.1 or $GRADIO_SERVER_NAME, as on Spaces)")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860 or $GRADIO_SERVER_PORT)")
    return parser


def main(argv: list[str] | None = None, **launch_kwargs):
    """`python app.py [flags]`: builds the page and serves it (until interrupted; `prevent_thread_lock=True` in
    `launch_kwargs` returns at once, serving from a thread). Returns the `gr.Blocks`."""
    args = build_parser().parse_args(argv)
    demo = build_demo(args.char_rnn, args.classifier, args.translator, args.tagger)
    demo.queue().launch(server_name=args.host, server_port=args.port, **launch_kwargs)
    return demo
