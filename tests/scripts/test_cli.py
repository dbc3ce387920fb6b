"""`rnnformers-generate` refuses bad sampling settings and names a model that is not there."""

import pytest

from rnnformers.cli import generate_main


@pytest.mark.parametrize("flags, message", [
    (["--top_p", "0"], "--top_p must be in (0, 1], got 0.0."),
    (["--top_p", "1.5"], "--top_p must be in (0, 1], got 1.5."),
    (["--temperature", "0"], "--temperature must be positive"),
    (["--top_k", "-1"], "--top_k must be at least 0"),
])
def test_generate_refuses_sampling_settings_out_of_range(flags, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        generate_main([str(tmp_path), "--prompt", "To be", "--do_sample", *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_generate_names_a_model_folder_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="model '.*/outputs/missing': no such folder"):
        generate_main([str(tmp_path / "outputs" / "missing"), "--prompt", "To be"])
