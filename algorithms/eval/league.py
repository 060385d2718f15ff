"""A rating league: every ordered pair of policies meets on the same seeds, each game saved as it ends.

A game seats two policies: one holds the spy seats, the other every other seat, and each seed is played
by every ordered pair, so each policy plays as often as the spy as as a civilian, against every other
policy, on the same pictures and seats. Games go to `games.jsonl` in the league folder (flushed and
fsynced after each batch of lock-step games), so a killed league resumes where it stopped and never plays
a recorded game again; `league.json` holds the settings a resumed league must match.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import Policy
from algorithms.eval.head_to_head import side_by_role
from algorithms.eval.rates import Rate
from algorithms.eval.ratings import Outcome, bootstrap_intervals, bradley_terry, win_counts
from algorithms.rollout import GameRecord, play_games
from vz_env.atomic import atomic_write_text
from vz_env.turn import Phase, Role

GAMES_FILE = "games.jsonl"
SETTINGS_FILE = "league.json"


@dataclass(frozen=True)
class Match:
    """One scheduled game: its index in the league, its seed, and which policy holds the spy seats."""

    index: int
    seed: int
    spy: int
    civilian: int


def schedule(num_policies: int, num_games: int, seed: int = 0) -> list[Match]:
    """Every ordered pair (spy policy, civilian policy) on seeds seed, seed+1, ...: `num_games` rounded up
    to a multiple of K(K-1), indexed seed by seed."""
    if num_policies < 2:
        raise ValueError(f"a league needs at least two policies, got {num_policies}")
    pairs = [(a, b) for a in range(num_policies) for b in range(num_policies) if a != b]
    seeds = math.ceil(num_games / len(pairs))
    return [
        Match(j * len(pairs) + p, seed + j, spy, civilian)
        for j in range(seeds)
        for p, (spy, civilian) in enumerate(pairs)
    ]


def game_record(match: Match, labels: Sequence[str], game: GameRecord) -> dict[str, Any]:
    """A finished game as one JSON object: seed, seats, roles, every turn, rewards, winner."""
    winner = match.spy if game.winner == "spies" else match.civilian
    return {
        "game": match.index,
        "seed": game.seed,
        "spy_policy": labels[match.spy],
        "civilian_policy": labels[match.civilian],
        "seats": {
            agent: labels[match.spy if role == Role.SPY else match.civilian]
            for agent, role in game.roles.items()
        },
        "roles": {agent: str(role) for agent, role in game.roles.items()},
        "turns": [
            {
                "agent": t.agent,
                "phase": str(t.phase),
                "round": t.round,
                "raw": t.raw,
                "clue": t.clue,
                "vote": t.vote,
                "valid": t.valid,
                "reason": t.reason,
                "abstain": t.abstain,
            }
            for t in game.transcript
        ],
        "rewards": game.rewards,
        "winner": game.winner,
        "winning_policy": labels[winner],
    }


def read_games(path: Path) -> list[dict[str, Any]]:
    """The complete records of a transcript; a last line cut short by a kill is dropped from the file."""
    if not path.exists():
        return []
    records, kept = [], 0
    with path.open("rb") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except ValueError:
                break
            kept += len(line)
    if kept != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(kept)
    return records


def check_settings(out: Path, settings: Mapping[str, Any]) -> None:
    """Raise ValueError when `out` holds a league of other settings (a new or empty folder passes)."""
    path = out / SETTINGS_FILE
    if path.exists():
        saved, wanted = json.loads(path.read_text()), json.loads(json.dumps(settings))
        if saved != wanted:
            changed = sorted(k for k in {*saved, *wanted} if saved.get(k) != wanted.get(k))
            raise ValueError(
                f"{out} holds a league of other settings ({', '.join(changed)}): use a new --out"
            )


def play_league(
    policies: Mapping[str, Policy],
    num_games: int,
    out: str | Path,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    on_game: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Play the league's games that `out/games.jsonl` does not hold yet and return every game's record.

    Games of one ordered pair run `batch_size` at a time in lock-step; each batch's records are appended
    and synced to disk before the next batch starts. `on_game` sees each new record (progress display).
    """
    labels = list(policies)
    out = Path(out)
    settings = {"policies": labels, "games": num_games, "seed": seed, "env": dict(env_kwargs or {})}
    check_settings(out, settings)
    if not (out / SETTINGS_FILE).exists():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    matches = schedule(len(labels), num_games, seed)
    records = read_games(out / GAMES_FILE)
    done = {r["game"] for r in records}
    with (out / GAMES_FILE).open("a", encoding="utf-8") as transcript:
        for batch in _batches([m for m in matches if m.index not in done], batch_size):
            seating = side_by_role(policies[labels[batch[0].spy]], policies[labels[batch[0].civilian]])
            rollout = play_games(
                seating,
                len(batch),
                batch[0].seed,
                env_kwargs=env_kwargs,
            )
            new = [game_record(match, labels, game) for match, game in zip(batch, rollout.games)]
            transcript.writelines(json.dumps(r) + "\n" for r in new)
            transcript.flush()
            os.fsync(transcript.fileno())
            records += new
            for record in new:
                if on_game is not None:
                    on_game(record)
    return sorted(records, key=lambda r: r["game"])


def _batches(matches: list[Match], size: int) -> Iterator[list[Match]]:
    """Runs of matches of one ordered pair on consecutive seeds, at most `size` long; every pair's k-th run
    comes before any pair's (k+1)-th, so a league stopped early is balanced to within one run."""
    by_pair: dict[tuple[int, int], list[Match]] = {}
    for match in matches:
        by_pair.setdefault((match.spy, match.civilian), []).append(match)
    runs = []
    for pair in by_pair.values():
        run: list[Match] = []
        for match in sorted(pair, key=lambda m: m.seed):
            if run and (len(run) == size or match.seed != run[-1].seed + 1):
                runs.append(run)
                run = []
            run.append(match)
        runs.append(run)
    yield from sorted(runs, key=lambda r: r[0].index)


def summarize(
    records: Sequence[dict[str, Any]], labels: Sequence[str], replicates: int = 1000
) -> dict[str, Any]:
    """Ratings with bootstrap 95% intervals, the pairwise win matrix and per-policy rates, as JSON data."""
    index = {label: i for i, label in enumerate(labels)}
    outcomes = []
    for r in records:
        spy, civilian = index[r["spy_policy"]], index[r["civilian_policy"]]
        winner = spy if r["winner"] == "spies" else civilian
        outcomes.append(Outcome(winner, civilian if winner == spy else spy, (spy, civilian)))
    k = len(labels)
    wins = win_counts(outcomes, k)
    ratings = bradley_terry(wins)
    intervals = bootstrap_intervals(outcomes, k, replicates) if outcomes else np.full((k, 2), np.nan)
    played = wins + wins.T
    rows = []
    for i, label in enumerate(labels):
        rates = _rates(records, label)
        rows.append(
            {
                "policy": label,
                "rating": float(ratings[i]),
                "ci95": [float(v) for v in intervals[i]],
                "games": int(played[i].sum()),
                "win_rate": Rate(int(wins[i].sum()), int(played[i].sum())).to_dict(),
                **{name: rate.to_dict() for name, rate in rates.items()},
            }
        )
    matrix = [
        [None if i == j or not played[i, j] else float(wins[i, j] / played[i, j]) for j in range(k)]
        for i in range(k)
    ]
    return {
        "games": len(records),
        "rating": "Bradley-Terry, Elo scale (400 points = 10:1 odds), mean 1000; 95% bootstrap intervals",
        "policies": sorted(rows, key=lambda row: -row["rating"]),
        "labels": list(labels),
        "win_matrix": matrix,
    }


def _rates(records: Sequence[dict[str, Any]], label: str) -> dict[str, Rate]:
    """A policy's invalid turns (over all its turns) and abstentions (over its civilian votes)."""
    turns = invalid = votes = abstained = 0
    for r in records:
        for t in r["turns"]:
            if r["seats"][t["agent"]] != label:
                continue
            turns += 1
            invalid += not t["valid"] and not t["abstain"]
            if t["phase"] == str(Phase.DECISION) and r["roles"][t["agent"]] != str(Role.SPY):
                votes += 1
                abstained += t["abstain"]
    return {"invalid_turn_rate": Rate(invalid, turns), "na_rate": Rate(abstained, votes)}
