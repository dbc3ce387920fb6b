"""Training support shared by the scripts, their tests and the benchmarks: data loading and splits, callbacks, scoring,
model cards and the scripts' common lifecycle. Import from the submodules (`rnnformers.training.<module>`)."""
