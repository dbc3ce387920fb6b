"""The lifecycle the training scripts share (rnnformers.training.lifecycle): flags, config overrides, output folder."""

import json

import huggingface_hub
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from rnnformers import CharRNNConfig, GRUConfig
from rnnformers.training.hub import HubUpload, hub_files
from rnnformers.training.lifecycle import (
    BaseDataArguments,
    BaseModelArguments,
    TrainingArguments,
    check_run,
    load_pretrained,
    parse_config_overrides,
)


def test_config_overrides_take_the_type_of_each_default_and_refuse_unknown_fields():
    assert parse_config_overrides(GRUConfig, "bidirectional=true,pooling=mean_max,hidden_size=32,dropout=0") == {
        "bidirectional": True, "pooling": "mean_max", "hidden_size": 32, "dropout": 0.0,
    }
    assert parse_config_overrides(CharRNNConfig, None) == {}
    # An optional field takes its declared type (`lstm_forget_bias: float | None = None`).
    assert parse_config_overrides(GRUConfig, "lstm_forget_bias=1") == {"lstm_forget_bias": 1.0}
    assert parse_config_overrides(GRUConfig, "lstm_forget_bias=None") == {"lstm_forget_bias": None}
    with pytest.raises(ValueError, match="lstm_forget_bias='x' is not a float"):
        parse_config_overrides(GRUConfig, "lstm_forget_bias=x")
    with pytest.raises(ValueError, match="has no field 'hiden_size'"):
        parse_config_overrides(CharRNNConfig, "hiden_size=3")
    with pytest.raises(ValueError, match="bidirectional='maybe' is not a true or false"):
        parse_config_overrides(GRUConfig, "bidirectional=maybe")
    with pytest.raises(ValueError, match="hidden_size='big' is not a int"):
        parse_config_overrides(GRUConfig, "hidden_size=big")
    with pytest.raises(ValueError, match="not of the form key=value"):
        parse_config_overrides(GRUConfig, "hidden_size")
    with pytest.raises(ValueError, match="set from the tokenizer"):
        parse_config_overrides(GRUConfig, "vocab_size=5")
    with pytest.raises(ValueError, match="'dropout' is given twice"):
        parse_config_overrides(GRUConfig, "dropout=0.1,hidden_size=8,dropout=0.3")


def test_config_overrides_cannot_change_a_saved_model():
    with pytest.raises(ValueError, match="--config_overrides .* cannot change the saved --model_name_or_path"):
        BaseModelArguments(model_name_or_path="outputs/x", config_overrides="hidden_size=8")
    with pytest.raises(ValueError, match="--max_eval_samples must be at least 1"):
        BaseDataArguments(max_eval_samples=0)


def test_run_flags_must_say_what_to_do(tmp_path):
    def args(**kwargs):
        return TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", **kwargs)

    with pytest.raises(ValueError, match="nothing to do: pass --do_train, --do_eval and/or --do_predict"):
        check_run(BaseModelArguments(), args())
    with pytest.raises(ValueError, match="pass --model_name_or_path"):
        check_run(BaseModelArguments(), args(do_eval=True))
    # transformers turns do_eval on with an --eval_strategy: that alone is a run that evaluates a saved model.
    assert args(eval_strategy="steps").do_eval
    check_run(BaseModelArguments(), args(do_train=True))
    with pytest.raises(ValueError, match="--resume_from_checkpoint continues training"):
        check_run(BaseModelArguments(model_name_or_path="x"), args(do_eval=True, resume_from_checkpoint="x/c-1"))


def test_an_output_folder_holding_a_model_or_checkpoints_is_refused_unless_told(tmp_path):
    output_dir = tmp_path / "run"
    (output_dir / "checkpoint-8").mkdir(parents=True)
    (output_dir / "checkpoint-12").mkdir()
    train = dict(output_dir=str(output_dir), report_to="none", do_train=True)
    with pytest.raises(ValueError, match=r"holds checkpoints .*checkpoint-12.* --overwrite_output_dir .* "
                                         r"--resume_from_checkpoint .*checkpoint-12"):
        check_run(BaseModelArguments(), TrainingArguments(**train))
    check_run(BaseModelArguments(), TrainingArguments(**train, overwrite_output_dir=True))
    check_run(BaseModelArguments(), TrainingArguments(**train, resume_from_checkpoint=str(output_dir / "checkpoint-8")))
    # Resuming a checkpoint of ANOTHER run into this folder would overwrite this run's model and checkpoints.
    (tmp_path / "other" / "checkpoint-4").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"holds checkpoints .* --overwrite_output_dir"):
        check_run(BaseModelArguments(),
                  TrainingArguments(**train, resume_from_checkpoint=str(tmp_path / "other" / "checkpoint-4")))
    (output_dir / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="holds a saved model and checkpoints"):
        check_run(BaseModelArguments(), TrainingArguments(**train))
    # Scoring the model of that folder into itself is allowed (only results files are written); into another folder
    # holding a model it is not.
    check_run(BaseModelArguments(model_name_or_path=str(output_dir)),
              TrainingArguments(output_dir=str(output_dir), report_to="none", do_eval=True))
    with pytest.raises(ValueError, match="holds a saved model"):
        check_run(BaseModelArguments(model_name_or_path=str(tmp_path / "other")),
                  TrainingArguments(output_dir=str(output_dir), report_to="none", do_eval=True))


def test_a_model_path_that_does_not_exist_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network: the name is not cached
    with pytest.raises(ValueError, match=r"--model_name_or_path '.*/missing/model': no such folder"):
        load_pretrained(AutoModelForCausalLM, str(tmp_path / "missing" / "model"), "--model_name_or_path")
    with pytest.raises(ValueError, match="--tokenizer_name 'someone/not-cached' is not a folder, and no Hub model"):
        load_pretrained(AutoTokenizer, "someone/not-cached", "--tokenizer_name")


def test_hub_upload_takes_the_token_out_of_the_training_arguments(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path / "my-model"), report_to="none", push_to_hub=True,
                             hub_token="hf_secret", do_train=True)
    upload = HubUpload.take_from(args)
    assert (upload.repo_name, upload.token) == ("my-model", "hf_secret")
    assert args.push_to_hub is False and args.hub_token is None
    assert HubUpload.take_from(TrainingArguments(output_dir=str(tmp_path), report_to="none")) is None
    for name in ("model.safetensors", "training_args.bin", "optimizer.pt", "notes.txt", "README.md",
                 "test_results.json", "trainer_state.json", "configuration_x.py", "x.py", "pipeline_y.py"):
        (tmp_path / name).write_text("x")
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoConfig": "configuration_x.XConfig",
                                                                   "AutoModel": "modeling_x.XModel"}}))
    (tmp_path / "modeling_x.py").write_text("from .utils_x import helper\nfrom .configuration_x import XConfig\n")
    (tmp_path / "utils_x.py").write_text("helper = 1\n")
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "model.safetensors").write_text("x")
    # Code files are those the config names and what they import; a stray x.py / pipeline_y.py is not uploaded.
    assert hub_files(tmp_path) == ["README.md", "config.json", "configuration_x.py", "model.safetensors",
                                   "modeling_x.py", "test_results.json", "utils_x.py"]
    config = json.loads((tmp_path / "config.json").read_text())
    config["custom_pipelines"] = {"y": {"impl": "pipeline_y.YPipeline", "pt": ["AutoModel"]}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert "pipeline_y.py" in hub_files(tmp_path) and "x.py" not in hub_files(tmp_path)


def test_a_resumed_run_reads_the_checkpoint_tokenizer_and_refuses_another(tmp_path):
    from rnnformers.tokenization import build_char_tokenizer
    from rnnformers.training.lifecycle import check_tokenizer_matches, load_saved_tokenizer

    checkpoint = tmp_path / "run" / "checkpoint-5"
    build_char_tokenizer("To be or not to be").save_pretrained(checkpoint)
    args = TrainingArguments(output_dir=str(tmp_path / "run"), report_to="none", do_train=True,
                             resume_from_checkpoint=str(checkpoint))
    tokenizer = load_saved_tokenizer(BaseModelArguments(), args)
    assert tokenizer.get_vocab() == build_char_tokenizer("To be or not to be").get_vocab()
    check_tokenizer_matches(tokenizer, args, None)
    assert load_saved_tokenizer(BaseModelArguments(), TrainingArguments(output_dir=str(tmp_path), report_to="none")) is None
    with pytest.raises(ValueError, match="differs from the one saved with --resume_from_checkpoint"):
        check_tokenizer_matches(build_char_tokenizer("TO BE"), args, None)


def test_the_parts_to_score_are_those_asked_for_and_must_exist(tmp_path):
    from rnnformers.training.lifecycle import parts_to_score

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", do_train=True, do_predict=True)
    assert parts_to_score(args, {"train": 1, "validation": 2, "test": 3}) == [("test", 3)]
    # --eval_strategy turns --do_eval on (transformers): the final validation scores come with it.
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", do_train=True, eval_strategy="epoch")
    assert parts_to_score(args, {"train": 1, "validation": 2}) == [("validation", 2)]
    with pytest.raises(ValueError, match="--do_eval needs a validation part, and this run's data has none"):
        parts_to_score(args, {"train": 1, "test": 3})
