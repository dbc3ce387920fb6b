"""ONNX export of every rnnformers family, and ONNX Runtime inference over the exported graphs (the `onnx` extra:
`pip install rnnformers[onnx]`; saved folders and their remote code never need it).

- The classifier and the taggers: one graph, `input_ids` and `attention_mask` [batch, time] → `logits` (for a
  CRF tagger: the emissions; the Viterbi path is taken outside the graph by the model's own CRF).
- The char-RNN: a step graph, `input_ids` [batch, time] and the state (`state_h`, and `state_c` for an LSTM, each
  [num_layers, batch, hidden_size]) → `logits` [batch, time, vocab] and the state after the last step; generation
  (greedy or sampling) loops over it, reading a prompt in one call and then one token per call.
- The translator: an encoder graph (`input_ids`, `attention_mask` → `encoder_hidden_states`, the decoder's initial
  `state`) and a decoder step graph (one target token per row, the encoder outputs, the source mask and the state →
  log-probabilities of the next token, the new state and the attention weights); greedy decoding and beam search
  loop over it.

The graphs are exported with PyTorch's TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`), which
maps the recurrent layers to ONNX's own `GRU` / `LSTM` operators with a dynamic time axis. The dynamo exporter
cannot: `torch.export` decomposes `aten.lstm` / `aten.gru` over the example's time steps and so fixes the length
("You marked time as dynamic but your code specialized it to be a constant"). Every runner checks its graph against
the PyTorch model it was exported from when asked (`verify=True` in the export functions), at lengths and batch
sizes other than the example's, since a traced graph that had fixed a length would give wrong answers silently.

A decoding loop here takes the same steps as `generate()` (`tests/test_onnx_export.py` checks greedy decoding token
for token against it); beam search is the classic one (`num_beams` hypotheses, finished ones scored by their mean
log-probability to the power `length_penalty`, as transformers normalises them).
"""

import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn


OPSET = 17


def _family_module(model):
    """The modeling module of `model`'s class: the installed family's, or a saved folder's own copy (remote code)."""
    return sys.modules[type(model).__module__]


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError("ONNX Runtime inference needs the `onnx` extra: pip install 'rnnformers[onnx]'") from error
    return onnxruntime


def _session(path: Path, num_threads: int | None = None):
    onnxruntime = _require_onnxruntime()
    options = onnxruntime.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(module: nn.Module, args: tuple, path: Path, input_names, output_names, dynamic_axes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The exporter restores the wrapper's mode afterwards, recursively: a wrapper left in training mode would put the
    # model it wraps in training mode too (dropout on).
    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated, and about every traced shape read; see the module's
        # docstring for why it is the one used, and `verify` for the check of what it traced.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes)
    return path


def _verified(check, what: str):
    """Runs `check` (graph against model at other shapes); a mismatch is a ValueError, not a silent graph."""
    try:
        check()
    except AssertionError as error:
        raise ValueError(
            f"The exported {what} does not give the model's outputs at another batch size or length (a traced graph "
            f"fixes any length-dependent Python loop, e.g. an LSTM whose final state is read under padding): {error}"
        ) from error


def _quantize_graphs(output_dir: Path, names: list[str]) -> None:
    """ONNX Runtime's dynamic int8 quantization of the exported graphs, in place (after they were verified in float):
    LSTM layers become its fused `DynamicQuantizeLSTM`, matrix products `MatMulInteger`; weights int8, activations
    quantized at each call. (Its quantizer has no GRU form: GRU layers stay float32.)"""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for name in names:
        path = output_dir / name
        quantized_path = path.with_name(f"{path.stem}.int8.onnx")
        # Its advice to run its pre-processing first is logged on the root logger at every call; the graphs here
        # come straight from the exporter, already shape-inferred.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(str(path), str(quantized_path), weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
        quantized_path.replace(path)  # only once quantized: a failure leaves the float graph and manifest as they were
    manifest_path = output_dir / "onnx_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["int8"] = True
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


def _check_exportable(model: nn.Module, model_types: tuple[str, ...]):
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in model_types:
        got = model_type or type(model).__name__
        raise ValueError(f"`model` must be a {' or '.join(model_types)} model, got {got}.")
    if getattr(model, "_rnnformers_int8", False):
        raise ValueError("Export the float model: an int8-quantized model's kernels have no ONNX form here.")
    if any(p.dtype != torch.float32 for p in model.parameters()):
        raise ValueError("Export a float32 model (ONNX Runtime then runs it in float32).")


def _write_manifest(output_dir: Path, kind: str, model, **extra):
    manifest = {"kind": kind, "model_type": model.config.model_type, "opset": OPSET, **extra}
    (output_dir / "onnx_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _read_manifest(folder: Path, kinds: tuple[str, ...]) -> dict:
    path = Path(folder) / "onnx_manifest.json"
    if not path.is_file():
        raise ValueError(f"{folder}: no onnx_manifest.json; export the model with rnnformers.onnx_export first.")
    manifest = json.loads(path.read_text())
    if manifest["kind"] not in kinds:
        raise ValueError(f"{folder} holds an exported {manifest['kind']}, not a {' or '.join(kinds)}.")
    return manifest


# ---------------------------------------------------------------------------------------------------------- classifier


class _LogitsGraph(nn.Module):
    """`input_ids`, `attention_mask` → `logits` of a sequence or token classifier (the emissions of a CRF tagger)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        if getattr(self.model, "crf", None) is not None:
            return self.model.emissions(input_ids, attention_mask)[0]
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).logits


def export_classifier(model, output_dir: str | Path, verify: bool = True, quantize: bool = False) -> Path:
    """Exports a `GRUForSequenceClassification`, `GRUForTokenClassification` or `RNNTaggerForTokenClassification` as
    `output_dir/model.onnx` (dynamic batch and time axes); `quantize=True` then quantizes it to int8 (ONNX Runtime's
    dynamic quantization). Returns the folder."""
    _check_exportable(model, ("gru", "rnn_tagger"))
    if getattr(model.config, "char_lm_hidden_size", None):
        raise ValueError("A tagger with contextual character-LM features is not exported: their text length is read "
                         "on the host, which a traced graph would fix.")
    model = model.eval()
    output_dir = Path(output_dir)
    ids = torch.randint(1, model.config.vocab_size, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    _export(_LogitsGraph(model).eval(), (ids, mask), output_dir / "model.onnx", ["input_ids", "attention_mask"],
            ["logits"],
            {"input_ids": {0: "batch", 1: "time"}, "attention_mask": {0: "batch", 1: "time"}, "logits": {0: "batch"}})
    is_token_classifier = "TokenClassification" in type(model).__name__
    _write_manifest(output_dir, "token_classifier" if is_token_classifier else "classifier", model,
                    crf=getattr(model, "crf", None) is not None)
    def check():
        runner = OnnxClassifier(output_dir, model if is_token_classifier else None)
        for batch, length in ((1, 3), (3, 11)):
            ids = torch.randint(1, model.config.vocab_size, (batch, length))
            mask = torch.ones_like(ids)
            mask[-1, : length // 2] = 0
            with torch.no_grad():
                expected = _LogitsGraph(model).eval()(ids, mask)
            np.testing.assert_allclose(runner.logits(ids, mask), expected.numpy(), atol=1e-4, rtol=1e-4)

    if verify:
        _verified(check, "classifier graph")
    if quantize:
        _quantize_graphs(output_dir, ["model.onnx"])
    return output_dir


class OnnxClassifier:
    """ONNX Runtime over an exported classifier or tagger. For a CRF tagger, `model` (the PyTorch tagger the graph
    was exported from, or one loaded from the same folder) supplies the CRF for `decode`."""

    def __init__(self, folder: str | Path, model=None, num_threads: int | None = None):
        self.manifest = _read_manifest(folder, ("classifier", "token_classifier"))
        if self.manifest.get("crf") and model is None:
            raise ValueError("An exported CRF tagger decodes with its CRF: pass the PyTorch `model` too.")
        self.session = _session(Path(folder) / "model.onnx", num_threads)
        self.model = model

    def logits(self, input_ids, attention_mask) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": np.asarray(input_ids, dtype=np.int64),
                                             "attention_mask": np.asarray(attention_mask, dtype=np.int64)})[0]

    def decode(self, input_ids, attention_mask) -> list[list[int]]:
        """A tagger's best label per real token of each row (the CRF's Viterbi path, or the argmax)."""
        emissions = torch.from_numpy(self.logits(input_ids, attention_mask))
        mask = torch.as_tensor(np.asarray(attention_mask))
        if self.model is None or getattr(self.model, "crf", None) is None:
            return [row[m.bool()].argmax(-1).tolist() for row, m in zip(emissions, mask)]
        module = _family_module(self.model)
        order, step_mask = module.left_align(mask)
        with torch.no_grad():
            paths = self.model.crf.decode(module._gather_steps(emissions, order), step_mask)
        return [path[:length].tolist() for path, length in zip(paths, step_mask.sum(dim=1).tolist())]


# ------------------------------------------------------------------------------------------------------------ char-RNN


class _CharRNNStepGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.lstm = model.config.cell_type == "lstm"

    def forward(self, input_ids, state_h, state_c=None):
        module = _family_module(self.model)
        states = (state_h, state_c) if self.lstm else (state_h,)
        cache = module.RecurrentStateCache.from_tensors(states)
        out = self.model(input_ids=input_ids, use_cache=True, return_dict=True,
                         **{module.generation_cache_name(): cache})
        new_states = getattr(out, module.generation_cache_name()).to_tensors()
        return (out.logits, *new_states)


def export_char_rnn(model, output_dir: str | Path, verify: bool = True, quantize: bool = False) -> Path:
    """Exports a `CharRNNForCausalLM` as a step graph `output_dir/step.onnx` (see the module's docstring);
    `quantize=True` then quantizes it to int8."""
    _check_exportable(model, ("char_rnn",))
    model = model.eval()
    config = model.config
    output_dir = Path(output_dir)
    state_names = ["state_h", "state_c"] if config.cell_type == "lstm" else ["state_h"]
    ids = torch.randint(0, config.vocab_size, (2, 5))
    states = tuple(torch.randn(config.num_layers, 2, config.hidden_size) * 0.1 for _ in state_names)
    axes = {"input_ids": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}}
    axes.update({name: {1: "batch"} for name in state_names})
    axes.update({f"new_{name}": {1: "batch"} for name in state_names})
    _export(_CharRNNStepGraph(model).eval(), (ids, *states), output_dir / "step.onnx", ["input_ids", *state_names],
            ["logits", *[f"new_{name}" for name in state_names]], axes)
    _write_manifest(output_dir, "char_rnn", model, cell_type=config.cell_type, num_layers=config.num_layers,
                    hidden_size=config.hidden_size)
    def check():
        runner = OnnxCharRNN(output_dir)
        for batch, length in ((1, 1), (3, 9)):
            ids = torch.randint(0, config.vocab_size, (batch, length))
            states = tuple(torch.randn(config.num_layers, batch, config.hidden_size) * 0.1 for _ in state_names)
            with torch.no_grad():
                expected = _CharRNNStepGraph(model).eval()(ids, *states)
            logits, new_state = runner.step(ids.numpy(), [s.numpy() for s in states])
            for got, want in zip([logits, *new_state], expected):
                np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)

    if verify:
        _verified(check, "char-RNN step graph")
    if quantize:
        _quantize_graphs(output_dir, ["step.onnx"])
    return output_dir


class OnnxCharRNN:
    """ONNX Runtime generation over an exported char-RNN step graph."""

    def __init__(self, folder: str | Path, num_threads: int | None = None):
        self.manifest = _read_manifest(folder, ("char_rnn",))
        self.session = _session(Path(folder) / "step.onnx", num_threads)
        self.state_names = ["state_h", "state_c"] if self.manifest["cell_type"] == "lstm" else ["state_h"]

    def zero_state(self, batch_size: int) -> list[np.ndarray]:
        shape = (self.manifest["num_layers"], batch_size, self.manifest["hidden_size"])
        return [np.zeros(shape, dtype=np.float32) for _ in self.state_names]

    def step(self, input_ids: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """input_ids [batch, time] and the state → logits [batch, time, vocab] and the state after the last step."""
        feed = {"input_ids": np.asarray(input_ids, dtype=np.int64), **dict(zip(self.state_names, state))}
        logits, *new_state = self.session.run(None, feed)
        return logits, new_state

    def generate(self, input_ids, max_new_tokens: int, do_sample: bool = False, temperature: float = 1.0,
                 top_k: int | None = None, seed: int | None = None) -> np.ndarray:
        """Prompts [batch, time] of equal length (no padding) → prompts + `max_new_tokens` tokens each. Greedy, or
        sampling at `temperature` among the `top_k` most likely tokens (all without `top_k`)."""
        input_ids = np.asarray(input_ids, dtype=np.int64)
        if input_ids.ndim != 2 or input_ids.shape[1] == 0:
            raise ValueError(f"`input_ids` must be [batch, time] with time >= 1, got shape {input_ids.shape}.")
        if temperature <= 0:
            raise ValueError(f"`temperature` must be positive, got {temperature}.")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        logits, state = self.step(input_ids, self.zero_state(len(input_ids)))
        tokens = [input_ids]
        for _ in range(max_new_tokens):
            next_logits = torch.from_numpy(logits[:, -1])
            if do_sample:
                next_token = _sample(next_logits, temperature, top_k, generator)
            else:
                next_token = next_logits.argmax(dim=-1)
            token = next_token.numpy().astype(np.int64)[:, None]
            tokens.append(token)
            logits, state = self.step(token, state)
        return np.concatenate(tokens, axis=1)


def _sample(logits: torch.Tensor, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    """transformers' order: temperature, then top-k, then a draw from the softmax."""
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)


# ---------------------------------------------------------------------------------------------------------- translator


class _EncoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        encoder = self.model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        return encoder.last_hidden_state, encoder.final_state  # [B, S, H], [B, L, H]


class _DecoderStepGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, decoder_input_ids, encoder_hidden_states, attention_mask, state):
        module = _family_module(self.model)
        cache = module.RecurrentStateCache.from_tensors((state.transpose(0, 1),))
        encoder_outputs = module.Seq2SeqGRUAttentionEncoderOutput(last_hidden_state=encoder_hidden_states,
                                                                  final_state=state)
        out = self.model(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                         decoder_input_ids=decoder_input_ids, use_cache=True, output_attentions=True,
                         return_dict=True, **{module.generation_cache_name(): cache})
        (new_state,) = getattr(out, module.generation_cache_name()).to_tensors()
        log_probs = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        return log_probs, new_state.transpose(0, 1), out.cross_attentions[0][:, 0, -1]


def export_translator(model, output_dir: str | Path, verify: bool = True, quantize: bool = False) -> Path:
    """Exports a `Seq2SeqGRUAttention` as `encoder.onnx` and `decoder_step.onnx` in `output_dir`; `quantize=True`
    then quantizes them to int8."""
    _check_exportable(model, ("seq2seq_gru_attention",))
    model = model.eval()
    config = model.config
    output_dir = Path(output_dir)
    ids = torch.randint(4, config.vocab_size, (2, 6))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    _export(_EncoderGraph(model).eval(), (ids, mask), output_dir / "encoder.onnx", ["input_ids", "attention_mask"],
            ["encoder_hidden_states", "state"],
            {"input_ids": {0: "batch", 1: "source"}, "attention_mask": {0: "batch", 1: "source"},
             "encoder_hidden_states": {0: "batch", 1: "source"}, "state": {0: "batch"}})
    with torch.no_grad():
        hidden, state = _EncoderGraph(model).eval()(ids, mask)
    token = torch.full((2, 1), config.decoder_start_token_id)
    _export(_DecoderStepGraph(model).eval(), (token, hidden, mask, state), output_dir / "decoder_step.onnx",
            ["decoder_input_ids", "encoder_hidden_states", "attention_mask", "state"],
            ["log_probs", "new_state", "attention"],
            {"decoder_input_ids": {0: "batch"}, "encoder_hidden_states": {0: "batch", 1: "source"},
             "attention_mask": {0: "batch", 1: "source"}, "state": {0: "batch"}, "log_probs": {0: "batch"},
             "new_state": {0: "batch"}, "attention": {0: "batch", 1: "source"}})
    generation = model.generation_config
    _write_manifest(output_dir, "translator", model, decoder_start_token_id=config.decoder_start_token_id,
                    eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
                    max_length=generation.max_length, max_new_tokens=generation.max_new_tokens,
                    length_penalty=generation.length_penalty)
    def check():
        runner = OnnxTranslator(output_dir)
        for batch, length in ((1, 3), (3, 10)):
            ids = torch.randint(4, config.vocab_size, (batch, length))
            mask = torch.ones_like(ids)
            mask[-1, : length // 2] = 0
            with torch.no_grad():
                want_hidden, want_state = _EncoderGraph(model).eval()(ids, mask)
                token = torch.randint(4, config.vocab_size, (batch, 1))
                want_step = _DecoderStepGraph(model).eval()(token, want_hidden, mask, want_state)
            hidden, state = runner.encode(ids.numpy(), mask.numpy())
            np.testing.assert_allclose(hidden, want_hidden.numpy(), atol=1e-4, rtol=1e-4)
            got_step = runner.step(token.numpy(), hidden, mask.numpy(), state)
            for got, want in zip(got_step, want_step):
                np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)

    if verify:
        _verified(check, "translator graphs")
    if quantize:
        _quantize_graphs(output_dir, ["encoder.onnx", "decoder_step.onnx"])
    return output_dir


class OnnxTranslator:
    """ONNX Runtime greedy decoding and beam search over an exported translator."""

    def __init__(self, folder: str | Path, num_threads: int | None = None):
        self.manifest = _read_manifest(folder, ("translator",))
        self.encoder = _session(Path(folder) / "encoder.onnx", num_threads)
        self.decoder = _session(Path(folder) / "decoder_step.onnx", num_threads)

    def encode(self, input_ids, attention_mask):
        return self.encoder.run(None, {"input_ids": np.asarray(input_ids, dtype=np.int64),
                                       "attention_mask": np.asarray(attention_mask, dtype=np.int64)})

    def step(self, tokens, encoder_hidden_states, attention_mask, state):
        """tokens [batch, 1] → log-probabilities [batch, vocab], the new state [batch, layers, hidden] and the
        attention weights [batch, source]."""
        return self.decoder.run(None, {"decoder_input_ids": np.asarray(tokens, dtype=np.int64),
                                       "encoder_hidden_states": encoder_hidden_states,
                                       "attention_mask": np.asarray(attention_mask, dtype=np.int64), "state": state})

    def _max_new_tokens(self, source_len: int, max_new_tokens: int | None) -> int:
        if max_new_tokens is not None:
            return max_new_tokens
        if self.manifest.get("max_new_tokens"):
            return self.manifest["max_new_tokens"]
        return self.manifest["max_length"] - 1

    def generate(self, input_ids, attention_mask, num_beams: int = 1, max_new_tokens: int | None = None,
                 length_penalty: float | None = None) -> list[list[int]]:
        """Each source's translation as token ids (after the start token, up to and including `</s>`)."""
        if num_beams < 1:
            raise ValueError(f"`num_beams` must be at least 1, got {num_beams}.")
        input_ids, attention_mask = np.asarray(input_ids), np.asarray(attention_mask)
        steps = self._max_new_tokens(input_ids.shape[1], max_new_tokens)
        if length_penalty is None:  # the model's generation config, else transformers' default
            length_penalty = self.manifest.get("length_penalty")
        penalty = 1.0 if length_penalty is None else length_penalty
        hidden, state = self.encode(input_ids, attention_mask)
        if num_beams == 1:
            return self._greedy(hidden, attention_mask, state, steps)
        return [self._beam(hidden[i : i + 1], attention_mask[i : i + 1], state[i : i + 1], num_beams, steps, penalty)
                for i in range(len(input_ids))]

    def _greedy(self, hidden, mask, state, steps) -> list[list[int]]:
        eos = self.manifest["eos_token_id"]
        tokens = np.full((len(hidden), 1), self.manifest["decoder_start_token_id"], dtype=np.int64)
        outputs = [[] for _ in range(len(hidden))]
        done = np.zeros(len(hidden), dtype=bool)
        for _ in range(steps):
            log_probs, state, _ = self.step(tokens, hidden, mask, state)
            tokens = log_probs.argmax(axis=-1)[:, None].astype(np.int64)
            for i, token in enumerate(tokens[:, 0].tolist()):
                if not done[i]:
                    outputs[i].append(token)
                    done[i] = token == eos
            if done.all():
                break
        return outputs

    def _beam(self, hidden, mask, state, num_beams, steps, length_penalty) -> list[int]:
        """One source: `num_beams` live hypotheses; a hypothesis ending in `</s>` is set aside with its score
        divided by its length ** length_penalty; the search stops when no live hypothesis can beat the best finished
        one (transformers' `early_stopping=False` heuristic) or after `steps` tokens, where the live hypotheses
        compete with the finished ones."""
        eos = self.manifest["eos_token_id"]
        hidden, mask = np.repeat(hidden, num_beams, 0), np.repeat(mask, num_beams, 0)
        state = np.repeat(state, num_beams, 0)
        scores = np.full(num_beams, -np.inf, dtype=np.float64)
        scores[0] = 0.0  # the beams start identical: only one may expand
        sequences = [[] for _ in range(num_beams)]
        tokens = np.full((num_beams, 1), self.manifest["decoder_start_token_id"], dtype=np.int64)
        finished = []  # (normalised score, tokens)
        for length in range(1, steps + 1):
            log_probs, state, _ = self.step(tokens, hidden, mask, state)
            candidates = (scores[:, None] + log_probs).ravel()
            best = np.argsort(-candidates, kind="stable")[: 2 * num_beams]
            vocab = log_probs.shape[1]
            live = []
            for index in best:
                beam, token = divmod(int(index), vocab)
                score = float(candidates[index])
                if token == eos:
                    finished.append((score / length**length_penalty, sequences[beam] + [token]))
                else:
                    live.append((score, beam, token))
                if len(live) == num_beams:
                    break
            finished.sort(key=lambda item: -item[0])
            finished = finished[:num_beams]
            best_live = live[0][0] / length**length_penalty if live else -np.inf
            if len(finished) == num_beams and finished[-1][0] >= best_live:
                break
            beams = [beam for _, beam, _ in live]
            scores = np.array([score for score, _, _ in live])
            sequences = [sequences[beam] + [token] for _, beam, token in live]
            tokens = np.array([[token] for _, _, token in live], dtype=np.int64)
            state = state[beams]
        else:
            # Out of steps: the live hypotheses compete with the finished ones, normalised the same way.
            finished += [(score / steps**length_penalty, sequence) for score, sequence in zip(scores, sequences)]
        return max(finished, key=lambda item: item[0])[1]
