"""The length baseline as a judge: "pick the longer response" (characters of the response).

A pointwise judge like BT: score = number of characters, so it is credited by the same policy
(genrm.eval.credit: equal lengths are a tie and count 0) and ranks best-of-N samples the same way.
"""
from __future__ import annotations

from collections.abc import Sequence

from genrm.judges.base import Response, assistant, judge_pointwise
from genrm.types import Judgment, Message, PreferencePair


class LengthJudge:
    kind, name = "length", "length baseline"

    def score(self, prompts: Sequence[list[Message]], responses: Sequence[Response], batch_size: int = 8,
              progress: bool = False) -> list[float]:
        return [float(len("\n\n".join(m["content"] for m in assistant(r)))) for r in responses]

    def judge(self, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        return judge_pointwise(self, pairs, batch_size, progress)
