#!/usr/bin/env bash
# The four models bench_inference.py measures: each family at the architecture of its quality recipe (README), trained
# for a fraction of the recipe's steps (the float32 / bfloat16 / int8 / ONNX Runtime comparison needs a trained model,
# not the best one). One thread, bfloat16 autocast; about 53 minutes of one core in all (measured with the other
# core loaded by other jobs).
# Usage: bash benchmarks/train_inference_models.sh [outputs/inference]
set -euo pipefail
OUT=${1:-outputs/inference}
DATA=${DATA:-../shared/data}
PY=${PYTHON:-python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
QUIET="--report_to none --disable_tqdm true --logging_steps 50 --use_cpu --bf16 --overwrite_output_dir"

# char-RNN: the 1.4075 recipe's 3 x LSTM 512
[ -f "$OUT/char-rnn/config.json" ] || $PY scripts/train_char_rnn.py --do_train --do_eval --output_dir "$OUT/char-rnn" \
    --validation_split_percentage 10 --test_split_percentage 0 --eval_window_length 256 \
    --config_overrides "cell_type=lstm,num_layers=3,hidden_size=512,embedding_dim=64,dropout=0.1" \
    --window_length 100 --per_device_train_batch_size 64 --learning_rate 3e-3 --lr_scheduler_type cosine \
    --warmup_steps 50 --max_steps 300 --save_strategy no $QUIET

# classifier: the 92.22% recipe's biLSTM 512 with mean/max pooling, a 30k WordPiece, reviews cut at 512 tokens
[ -f "$OUT/imdb-wordpiece30k/tokenizer.json" ] || $PY scripts/train_tokenizer.py \
    --train_file "$DATA/imdb/train.parquet" --output_dir "$OUT/imdb-wordpiece30k" --algorithm wordpiece \
    --vocab_size 30000 --lowercase
[ -f "$OUT/classifier/config.json" ] || $PY scripts/train_sentiment.py --do_train --do_eval \
    --train_file "$DATA/imdb/train.parquet" --tokenizer_name "$OUT/imdb-wordpiece30k" --output_dir "$OUT/classifier" \
    --max_length 512 --max_train_samples 6000 \
    --config_overrides "cell_type=lstm,bidirectional=true,num_layers=1,hidden_size=512,pooling=mean_max,dropout=0.3,embedding_dropout=0.1" \
    --learning_rate 2e-3 --warmup_steps 0.05 --per_device_train_batch_size 32 --per_device_eval_batch_size 64 \
    --num_train_epochs 1 --train_sampling_strategy group_by_length --save_strategy no $QUIET

# translator: the 41.98 recipe's 2 x GRU 256 with dot attention and tied embeddings, a 5k vocabulary
[ -f "$OUT/translator/config.json" ] || $PY scripts/train_translation.py --do_train --output_dir "$OUT/translator" \
    --vocab_size 5000 \
    --config_overrides "embedding_dim=256,hidden_size=256,num_layers=2,dropout=0.0,attention_type=dot,tie_word_embeddings=true,bidirectional_encoder=true" \
    --learning_rate 2e-3 --warmup_steps 100 --max_steps 1000 --per_device_train_batch_size 64 \
    --label_smoothing_factor 0.1 --train_sampling_strategy group_by_length --save_strategy no \
    --dataloader_pin_memory false $QUIET

# tagger: the character-feature Bi-LSTM-CRF (hidden 256, 64 character features)
[ -f "$OUT/tagger/config.json" ] || $PY scripts/train_tagger.py --do_train --do_eval --output_dir "$OUT/tagger" \
    --train_file "$DATA/ud-english-ewt/en_ewt-ud-train.conllu" \
    --validation_file "$DATA/ud-english-ewt/en_ewt-ud-dev.conllu" \
    --config_overrides "hidden_size=256,char_features=64,token_dropout=0.1,use_crf=true" --tokenizer_vocab_size 8000 \
    --num_train_epochs 3 --learning_rate 2e-3 --warmup_steps 200 --max_grad_norm 5.0 \
    --per_device_train_batch_size 32 --per_device_eval_batch_size 64 --train_sampling_strategy group_by_length \
    --save_strategy no $QUIET
