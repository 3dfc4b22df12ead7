"""Exported checkpoints: checkpoint.py writes a run's judge as a plain Hugging Face checkpoint
(safetensors, tokenizer, `genrm_judge.json`) and pushes it to the Hub; model_card.py writes its
README model card with the Hub's metadata.

May import: judges, data, models and the foundation. Nothing below imports it.
"""
