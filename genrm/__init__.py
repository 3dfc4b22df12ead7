"""genrm: train and evaluate generative reward models (Mahan et al. 2024) and their baselines."""
from genrm.data.pairs import DataError, load_pairs
from genrm.types import Judgment, PreferencePair

__version__ = "0.1.0"
__all__ = ["DataError", "Judgment", "PreferencePair", "__version__", "load_judge", "load_pairs"]


def load_judge(path_or_id: str, kind: str | None = None, **options):
    """Rebuild a judge from an exported checkpoint, a plain HF model, or the embedded default."""
    from genrm.judges.base import load_judge as _load

    return _load(path_or_id, kind=kind, **options)
