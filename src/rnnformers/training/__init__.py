"""Training support shared by the scripts, their tests and the benchmarks. Import from the submodules:

- `lifecycle`: the flags and steps every training script shares (`--do_train` / `--do_eval` / `--do_predict`,
  `--config_overrides`, sample limits, the output-folder check, train / evaluate / save);
- `data`: per-task data loading and splits, the bundled-data paths;
- `translation`: tokenising translation pairs within length limits, `TranslationScorer`;
- `modelcard`: model cards; `hub`: `--push_to_hub` uploads of only what a model repository needs;
- `callbacks`: Trainer callbacks.
"""
