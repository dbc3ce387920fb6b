# One command to set up and train the demo char-RNN, one to set up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oldest transformers release supported (pyproject.toml's lower bound): `make test` runs the suite on it too.
TRANSFORMERS_OLDEST := 5.23.0
VENV_OLDEST := .venv-oldest
BIN_OLDEST := $(VENV_OLDEST)/bin

.PHONY: setup setup-oldest demo test test-newest test-oldest

setup: $(VENV)/.installed

# torch==2.13.0 first: on CPU machines it is the local CPU build; an unpinned torch would pull GBs of CUDA wheels.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup-oldest: $(VENV_OLDEST)/.installed

$(VENV_OLDEST)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(BIN_OLDEST)/pip install -q --upgrade pip
	$(BIN_OLDEST)/pip install -q torch==2.13.0
	$(BIN_OLDEST)/pip install -q -e ".[dev]" "transformers==$(TRANSFORMERS_OLDEST)"
	touch $@

demo: setup
	$(BIN)/python scripts/train_char_rnn.py --output_dir outputs/char-rnn-shakespeare --overwrite_output_dir \
		--do_train --do_eval --do_predict --max_steps 600 --per_device_train_batch_size 128 --learning_rate 3e-3 \
		--save_steps 300 --max_eval_samples 2000 --max_predict_samples 2000 --logging_steps 50 \
		--per_device_eval_batch_size 128
	$(BIN)/rnnformers-generate outputs/char-rnn-shakespeare --prompt "To be or not to b" --max_new_tokens 300 \
		--do_sample --temperature 0.6 --seed 42

# Both ends of the supported range: the newest transformers the registry serves today (upgraded first: a release
# that shipped since .venv was made is what a user installs now), then the oldest supported.
test: test-newest test-oldest

test-newest: setup
	$(BIN)/pip install -q --upgrade --upgrade-strategy only-if-needed transformers
	$(BIN)/python -m pytest -q

test-oldest: setup-oldest
	$(BIN_OLDEST)/python -m pytest -q
