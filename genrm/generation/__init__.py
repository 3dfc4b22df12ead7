"""Sampling text from a model behind one Generator protocol (base.py): transformers' generate
with grouped prefill and stacked caches (hf.py) or vLLM (vllm.py, imported only when chosen).

May import: data, models and the foundation.
"""
