# One command to set up and train the demo char-RNN, one to set up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oldest transformers release supported (pyproject.toml's lower bound): `make test` runs the suite on it too.
TRANSFORMERS_OLDEST := 5.23.0
VENV_OLDEST := .venv-oldest
BIN_OLDEST := $(VENV_OLDEST)/bin

.PHONY: setup setup-oldest demo app test test-newest test-oldest

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

# The demo app (README "App"): each tab serves the trained folder named below when outputs/ has it (char-RNN: from
# `make demo`; the others: the README's training commands), else an untrained demo folder under outputs/app/, built in
# seconds from the bundled data (rnnformers.demo_models) and labelled as such on the page. Nothing is trained here.
DATA ?= ../shared/data
APP_CHAR_RNN ?= outputs/char-rnn-shakespeare
APP_CLASSIFIER ?= outputs/gru-imdb
APP_TRANSLATOR ?= outputs/nmt-en-es-v3
APP_TAGGER ?= outputs/tagger-ewt-char
APP_HOST ?= 127.0.0.1
APP_PORT ?= 7860
APP_DEMO_DIR := outputs/app
# $(call app_folder,TRAINED,SLOT,DEMO_NAME): TRAINED if it holds a model, else the demo folder (and SLOT is missing).
app_folder = $(if $(wildcard $(1)/config.json),$(1),$(APP_DEMO_DIR)/$(3))
app_missing = $(if $(wildcard $(1)/config.json),,$(2))
APP_MISSING := $(strip $(call app_missing,$(APP_CHAR_RNN),char_rnn) $(call app_missing,$(APP_CLASSIFIER),classifier) \
	$(call app_missing,$(APP_TRANSLATOR),translator) $(call app_missing,$(APP_TAGGER),tagger))

app: setup
	$(if $(APP_MISSING),$(BIN)/python -m rnnformers.demo_models --output_dir $(APP_DEMO_DIR) --data_dir $(DATA) \
		--only $(APP_MISSING))
	$(BIN)/python app.py --char_rnn $(call app_folder,$(APP_CHAR_RNN),char_rnn,char-rnn) \
		--classifier $(call app_folder,$(APP_CLASSIFIER),classifier,gru-sentiment) \
		--translator $(call app_folder,$(APP_TRANSLATOR),translator,nmt-en-es) \
		--tagger $(call app_folder,$(APP_TAGGER),tagger,tagger) --host $(APP_HOST) --port $(APP_PORT)

# Both ends of the supported range: the newest transformers the registry serves today (upgraded first: a release
# that shipped since .venv was made is what a user installs now), then the oldest supported.
test: test-newest test-oldest

test-newest: setup
	$(BIN)/pip install -q --upgrade --upgrade-strategy only-if-needed transformers
	$(BIN)/python -m pytest -q

test-oldest: setup-oldest
	$(BIN_OLDEST)/python -m pytest -q
