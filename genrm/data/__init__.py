"""Preference data: what a judge is shown and where it comes from.

pairs.py loads any source (JSON lines, CSV, parquet, a hub dataset) into PreferencePairs and
validates it with file, row and field named; synth.py builds the demo's checkable families;
chat.py renders conversations with a model's chat template (one function for training, scoring,
sampling and serving); lengths.py is the token-limit policy (`max_length`, `over_length`).

May import: genrm.models and the foundation (types, config, runs, logs, stats). Nothing here
knows about judges, training or evaluation.
"""
