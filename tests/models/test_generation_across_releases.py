"""Generation is right on the installed transformers release, in the package and in saved folders run as remote code.

transformers 5.25 renamed the generation cache (`past_key_values` → `cache`); code written against 5.23 then
generated from a zero state at every step, without an error. `generation_contract.check_generation` catches that class
of break at once (cached = uncached for greedy, sampling and beams; per-step logits = one teacher-forced pass;
continuation from a returned cache = one longer call; a lost cache raises). CI runs this file on the oldest supported
release and on the newest one the registry serves.
"""

import pytest
import torch
import transformers

from rnnformers import (
    CharRNNConfig,
    CharRNNForCausalLM,
    Seq2SeqGRUAttention,
    Seq2SeqGRUAttentionConfig,
    Seq2SeqGRUAttentionEnsemble,
)

from conftest import make_hub_snapshot, run_python_without_rnnformers
from generation_contract import check_generation


VOCAB = 40
CONTRACT_SOURCE = (__import__("pathlib").Path(__file__).parent / "generation_contract.py").read_text(encoding="utf-8")


def sharpened(model):
    """Weights scaled up, so that an untrained model's next-token distributions are far from uniform (as a trained
    model's are): a zero state then changes the tokens, not only the last digits of the logits."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(2.0)
    return model.eval()


def char_rnn(cell_type: str):
    torch.manual_seed(0)
    config = CharRNNConfig(vocab_size=VOCAB, embedding_dim=8, hidden_size=16, num_layers=2, cell_type=cell_type,
                           pad_token_id=0)
    return sharpened(CharRNNForCausalLM(config))


def translator(seed: int, **overrides):
    torch.manual_seed(seed)
    config = Seq2SeqGRUAttentionConfig(**{
        "vocab_size": VOCAB, "embedding_dim": 8, "hidden_size": 12, "num_layers": 2, "pad_token_id": 0,
        "bos_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 1, **overrides,
    })
    return sharpened(Seq2SeqGRUAttention(config))


def ensemble():
    return Seq2SeqGRUAttentionEnsemble.from_members(
        [translator(0), translator(1, hidden_size=10, num_layers=1, attention_type="general",
                                   bidirectional_encoder=True)]
    )


def left_padded_prompts():
    ids = torch.tensor([[0, 0, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14], [0, 0, 0, 0, 15, 16]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


def padded_sources():
    ids = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 9, 10, 11, 12, 2], [1, 13, 2, 0, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


MODELS = {
    "char_rnn-gru": (lambda: char_rnn("gru"), left_padded_prompts, "AutoModelForCausalLM"),
    "char_rnn-lstm": (lambda: char_rnn("lstm"), left_padded_prompts, "AutoModelForCausalLM"),
    "seq2seq": (lambda: translator(0, bidirectional_encoder=True), padded_sources, "AutoModelForSeq2SeqLM"),
    "seq2seq-ensemble": (ensemble, padded_sources, "AutoModelForSeq2SeqLM"),
}


@pytest.mark.parametrize("name", MODELS)
def test_generation_contract_in_the_package(name):
    build, inputs, _ = MODELS[name]
    check_generation(build(), inputs())


def test_generation_contract_of_saved_folders_run_as_remote_code(tmp_path):
    # Every family's folder, loaded from a Hub snapshot with trust_remote_code in an interpreter without rnnformers:
    # the copy of the modeling code saved with the weights must keep the contract by itself.
    checks = []
    for index, (name, (build, inputs, auto_class)) in enumerate(MODELS.items()):
        folder = tmp_path / name
        build().save_pretrained(folder)
        make_hub_snapshot(folder, tmp_path, f"someone/model-{index}")
        checks.append(f"check_remote('someone/model-{index}', transformers.{auto_class}, {inputs()!r})")
    code = CONTRACT_SOURCE + f"""
import transformers
from torch import tensor

assert transformers.__version__ == {transformers.__version__!r}

def check_remote(repo, auto_class, inputs):
    model = auto_class.from_pretrained(repo, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    check_generation(model, inputs)
    print("checked", repo, type(model).__name__)

{chr(10).join(checks)}
print("ok")
"""
    result = run_python_without_rnnformers(code, tmp_path)
    assert result.stdout.strip().endswith("ok"), result.stdout
    assert result.stdout.count("checked") == len(MODELS)
