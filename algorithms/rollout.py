"""Lock-step rollouts: B games advance together, so one batched call serves the same turn of every game."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.base import Policy
from vz_env import spy_v0
from vz_env.parsing import parse_vote
from vz_env.rewards import decision_reward

CLUE_STAGE, DECISION_STAGE = "clue", "decision"
PolicySpec = Policy | Mapping[str, Policy] | Callable[[int, str, str], Policy]


@dataclass
class TurnSample:
    """One sampled action, ready for a trainer: who, in which stage, what it said, and what it earned.

    In the decision stage of vote mode, each voter's prompt gets `group_size` samples (`sample` 0 is
    the one played); all share `group`. `generation` holds token ids, log-probs and model inputs when
    the policy is a VLM, else None. `reward` is the player's zero-sum game reward for clue turns (set
    when the game ends; add `format_reward` for the clue's format term) and the verifiable decision
    reward for votes (format term included); spies' votes (spy_votes=True) get 0.
    """

    game: int
    agent: str
    role: str
    stage: str
    round: int
    policy: str
    text: str
    valid: bool
    parsed: dict[str, Any]
    generation: Any = None
    sample: int = 0
    group: tuple | None = None
    reward: float = 0.0
    format_reward: float = 0.0

    @property
    def num_tokens(self) -> int:
        return 0 if self.generation is None else int(self.generation.completion_ids.numel())


@dataclass
class GameRecord:
    """The outcome of one game: seed, roles, who each policy was, votes, rewards, winner, the transcript."""

    seed: int
    roles: dict[str, str]
    policies: dict[str, str]
    rewards: dict[str, float]
    votes_received: dict[str, int]
    winner: str
    transcript: list[dict[str, Any]]


@dataclass
class Rollout:
    """Everything B lock-step games produced."""

    samples: list[TurnSample] = field(default_factory=list)
    games: list[GameRecord] = field(default_factory=list)

    def stage(self, stage: str) -> list[TurnSample]:
        return [s for s in self.samples if s.stage == stage]

    @property
    def tokens(self) -> int:
        return sum(s.num_tokens for s in self.samples)


def resolve_policies(policies: PolicySpec) -> Callable[[int, str, str], Policy]:
    """Seat assignment as a function (game index, agent, role) -> policy, from a policy, map or function."""
    if isinstance(policies, Policy):
        return lambda game, agent, role: policies
    if isinstance(policies, Mapping):
        return lambda game, agent, role: policies[agent]
    return policies


def policy_label(policy: Policy) -> str:
    return getattr(policy, "label", None) or policy.name


def play_games(
    policies: PolicySpec,
    num_games: int,
    seed: int = 0,
    group_size: int = 1,
    env_kwargs: Mapping[str, Any] | None = None,
    sample_policies: Sequence[Policy] | None = None,
) -> Rollout:
    """Play `num_games` games in lock-step and return per-turn samples and per-game records.

    Every acting agent of every game at the same step that shares a policy goes into one batched call
    (VLM policies: one `generate`); votes take `group_size` samples each in vote mode. Policies listed
    in `sample_policies` (default: all with a `generate` method) return token ids and log-probs.
    """
    if num_games < 1 or group_size < 1:
        raise ValueError(f"num_games and group_size must be at least 1, got {num_games} and {group_size}")
    seat_policy = resolve_policies(policies)
    envs = [spy_v0.parallel_env(**dict(env_kwargs or {})) for _ in range(num_games)]
    observations = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    assigned = {
        (i, a): seat_policy(i, a, role)
        for i, env in enumerate(envs)
        for a, role in env.unwrapped.roles.items()
    }
    for policy in {id(p): p for p in assigned.values()}.values():
        policy.reset(seed)
    samplers = _sampling_policies(assigned.values(), sample_policies)
    rollout = Rollout()
    while any(env.agents for env in envs):
        requests = [(i, a) for i, env in enumerate(envs) if env.agents for a in env.acting_agents]
        by_policy: dict[int, list[tuple[int, str]]] = {}
        for request in requests:
            by_policy.setdefault(id(assigned[request]), []).append(request)
        outputs: dict[tuple[int, str], list[tuple[str, Any]]] = {}
        for batch in by_policy.values():
            policy = assigned[batch[0]]
            first_obs = observations[batch[0][0]][batch[0][1]]
            voting = first_obs["phase"] == 1 and envs[0].config.decision_mode == "vote"
            samples_per = group_size if voting else 1
            results = _call(
                policy, [observations[i][a] for i, a in batch], samples_per, id(policy) in samplers
            )
            outputs.update(zip(batch, results))
        infos: list[dict[str, Any]] = [{} for _ in envs]
        for i, env in enumerate(envs):
            if env.agents:
                actions = {a: outs[0][0] for (j, a), outs in outputs.items() if j == i}
                observations[i], _, _, _, infos[i] = env.step(actions)
        for (i, agent), outs in outputs.items():
            label = policy_label(assigned[(i, agent)])
            rollout.samples += _samples(envs[i], i, agent, label, outs, infos[i])
    _settle(rollout, envs, assigned, seed)
    return rollout


def _sampling_policies(policies: Any, explicit: Sequence[Policy] | None) -> set[int]:
    if explicit is not None:
        return {id(p) for p in explicit}
    return {id(p) for p in policies if hasattr(p, "generate")}


def _call(
    policy: Policy, observations: list[Mapping[str, Any]], samples_per: int, with_tokens: bool
) -> list[list[tuple[str, Any]]]:
    """One batched call; returns, per observation, `samples_per` (text, generation-or-None) pairs."""
    if with_tokens:
        generations = policy.generate(observations, num_samples=samples_per)
        return [
            [(g.text, g) for g in generations[j * samples_per : (j + 1) * samples_per]]
            for j in range(len(observations))
        ]
    repeated = [obs for obs in observations for _ in range(samples_per)]
    texts = policy.act_batch(repeated)
    return [
        [(t, None) for t in texts[j * samples_per : (j + 1) * samples_per]] for j in range(len(observations))
    ]


def _samples(
    env: Any,
    game_index: int,
    agent: str,
    label: str,
    outs: list[tuple[str, Any]],
    info: dict[str, Any],
) -> list[TurnSample]:
    """The played action's sample, parsed by the env, plus any extra decision samples scored here."""
    game = env.unwrapped.game
    turn = info[agent]["turn"]
    role = game.role(agent)
    group = _decision_group(game, game_index, agent) if turn["phase"] == DECISION_STAGE else None
    samples = [_from_turn(game_index, role, label, turn, outs[0], group)]
    cfg = game.config
    weight = cfg.format_weight if cfg.format_reward else 0.0
    for k, (text, generation) in enumerate(outs[1:], start=1):
        vote = parse_vote(text[: cfg.max_action_chars], cfg.num_players, game.seat_of.get(agent))
        reward = decision_reward(
            vote, game.spies, cfg.reward_correct, cfg.reward_abstain, cfg.reward_wrong, weight
        )
        parsed = {
            "vote": None if vote.target is None else f"player_{vote.target}",
            "abstain": vote.abstain,
            "reason": vote.reason,
        }
        samples.append(
            TurnSample(
                game_index,
                agent,
                role,
                DECISION_STAGE,
                turn["round"],
                label,
                text,
                vote.valid,
                parsed,
                generation,
                k,
                group,
                reward if role != "spy" else 0.0,
                weight if vote.well_formed else -weight,
            )
        )
    return samples


def _decision_group(game: Any, game_index: int, agent: str) -> tuple:
    """Samples of one decision prompt: a voter's G samples, or all observers of a game (same prompt)."""
    return (game_index,) if game.config.decision_mode == "observer" else (game_index, agent)


def _from_turn(
    game_index: int, role: str, label: str, turn: dict[str, Any], out: tuple[str, Any], group: tuple | None
) -> TurnSample:
    parsed = {k: turn[k] for k in ("clue", "vote", "abstain", "reason")}
    reward = turn["decision_reward"] if turn["decision_reward"] is not None else 0.0
    return TurnSample(
        game_index,
        turn["agent"],
        role,
        turn["phase"],
        turn["round"],
        label,
        out[0],
        turn["valid"],
        parsed,
        out[1],
        0,
        group,
        reward,
        turn["format_reward"],
    )


def _settle(rollout: Rollout, envs: list[Any], assigned: Mapping[tuple[int, str], Policy], seed: int) -> None:
    """Give every clue turn its player's game reward and record each finished game."""
    for i, env in enumerate(envs):
        game = env.unwrapped.game
        rewards = game.rewards()
        rollout.games.append(
            GameRecord(
                seed=seed + i,
                roles=game.roles,
                policies={a: policy_label(assigned[(i, a)]) for a in game.agents},
                rewards=rewards,
                votes_received=dict(zip(game.players, game.votes_received())),
                winner=game.winner(),
                transcript=[dataclasses.asdict(t) for t in game.turns],
            )
        )
    for sample in rollout.samples:
        if sample.stage == CLUE_STAGE:
            sample.reward = rollout.games[sample.game].rewards[sample.agent]
