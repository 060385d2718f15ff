"""Answer the visual probe (`probe_questions`) with a VLM: the option whose boxed answer it finds most likely.

Scoring each option's completion, rather than sampling an answer, needs no answer format from the model and
is deterministic, as multiple-choice evaluations of small language models usually are. The completion of
option `o` is `\\boxed{o}` followed by the model's end-of-turn token; the chosen option has the highest
total log-probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from algorithms.eval.probe_questions import KINDS, ProbeQuestion
from algorithms.eval.rates import Rate
from vz_env.parsing import boxed


def option_logprobs(policy: Any, questions: Sequence[ProbeQuestion], chunk: int = 16) -> list[list[float]]:
    """Per question, the total log-probability of each option's boxed answer under `policy.model`."""
    from agents.hf_vlm import Generation
    from agents.scoring import collate, completion_logprobs

    prompts = policy.encode_batch([q.observation for q in questions])
    end = torch.tensor([policy.eos_token_ids[0]])
    rows = []
    for prompt, question in zip(prompts, questions, strict=True):
        for option in question.options:
            ids = policy.tokenizer(boxed(option), add_special_tokens=False)["input_ids"]
            completion = torch.cat([torch.tensor(ids, dtype=torch.long), end])
            rows.append(Generation(option, completion, completion.float(), prompt, 0, True))
    totals: list[float] = []
    with torch.no_grad():
        for start in range(0, len(rows), chunk):
            batch = collate(rows[start : start + chunk], policy.pad_token_id)
            totals += completion_logprobs(policy.model, batch, temperature=1.0).sum(dim=1).tolist()
    scores, index = [], 0
    for question in questions:
        scores.append(totals[index : index + len(question.options)])
        index += len(question.options)
    return scores


def probe_report(policy: Any, questions: Sequence[ProbeQuestion], chunk: int = 16) -> dict[str, Any]:
    """Accuracy on the probe, overall and per kind, each a Rate (with its 95% interval), and chance level."""
    scores = option_logprobs(policy, questions, chunk)
    right = [
        max(range(len(s)), key=s.__getitem__) == q.answer for s, q in zip(scores, questions, strict=True)
    ]
    report: dict[str, Any] = {"accuracy": Rate(sum(right), len(right)).to_dict()}
    for kind in KINDS:
        mine = [r for r, q in zip(right, questions, strict=True) if q.kind == kind]
        report[f"accuracy_{kind}"] = Rate(sum(mine), len(mine)).to_dict()
    report["chance"] = sum(1 / len(q.options) for q in questions) / max(1, len(questions))
    return report
