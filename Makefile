# One command to set up and train the demo char-RNN, one to set up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test

setup: $(VENV)/.installed

# torch==2.13.0 first: on CPU machines it is the local CPU build; an unpinned torch would pull GBs of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/python scripts/train_char_rnn.py --output_dir outputs/char-rnn-shakespeare --overwrite_output_dir \
		--do_train --do_eval --do_predict --max_steps 600 --per_device_train_batch_size 128 --learning_rate 3e-3 \
		--save_steps 300 --max_eval_samples 2000 --max_predict_samples 2000 --logging_steps 50 \
		--per_device_eval_batch_size 128
	$(BIN)/rnnformers-generate outputs/char-rnn-shakespeare --prompt "To be or not to b" --max_new_tokens 300 \
		--do_sample --temperature 0.6 --seed 42

test: setup
	$(BIN)/python -m pytest -q
