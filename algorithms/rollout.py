"""Lock-step rollouts: B games advance together, so one batched call serves the same turn of every game."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.base import Policy
from vz_env import spy_v0
from vz_env.rewards import turn_reward
from vz_env.turn import Clue, Phase, Role, Turn

PolicySpec = Policy | Mapping[str, Policy] | Callable[[int, str, Role], Policy]


@dataclass
class TurnSample:
    """One sampled action, ready for a trainer: the Turn the game made of it, beside its generation.

    In the decision stage of vote mode, each voter's prompt gets `group_size` samples (`sample` 0 is
    the one played, the others judged by the same rules without being played); all share `group`.
    `generation` holds token ids, log-probs and model inputs when the policy is a VLM, else None.
    `reward` is the whole reward a trainer uses, set when the game ends (`vz_env.rewards.turn_reward`):
    for clue turns the player's zero-sum game reward plus the clue format term (SpyConfig's
    clue_format_weight, 0 by default), for votes the verifiable decision reward (format term included);
    spies' votes (spy_votes=True) get 0.
    """

    game: int
    turn: Turn
    role: Role
    policy: str
    generation: Any = None
    sample: int = 0
    group: tuple | None = None
    reward: float = 0.0

    @property
    def agent(self) -> str:
        """The agent that acted (the turn's)."""
        return self.turn.agent

    @property
    def stage(self) -> Phase:
        """The phase the action was taken in (CLUE or DECISION)."""
        return self.turn.phase

    @property
    def num_tokens(self) -> int:
        """Generated tokens of the sample (0 without a generation)."""
        return 0 if self.generation is None else int(self.generation.completion_ids.numel())


@dataclass
class GameRecord:
    """The outcome of one game: seed, roles, who each policy was, votes, rewards, winner, its Turns and
    the public clue history the players saw (invalid clues as shown in their place)."""

    seed: int
    roles: dict[str, Role]
    policies: dict[str, str]
    rewards: dict[str, float]
    votes_received: dict[str, int]
    winner: str
    transcript: list[Turn]
    history: list[Clue] = field(default_factory=list)


@dataclass
class Rollout:
    """Everything B lock-step games produced."""

    samples: list[TurnSample] = field(default_factory=list)
    games: list[GameRecord] = field(default_factory=list)

    def stage(self, stage: Phase) -> list[TurnSample]:
        """The samples of one stage (CLUE or DECISION)."""
        return [s for s in self.samples if s.turn.phase == stage]

    @property
    def tokens(self) -> int:
        return sum(s.num_tokens for s in self.samples)


def resolve_policies(policies: PolicySpec) -> Callable[[int, str, Role], Policy]:
    """Seat assignment as a function (game index, agent, role) -> policy, from a policy, map or function."""
    if isinstance(policies, Policy):
        return lambda game, agent, role: policies
    if isinstance(policies, Mapping):
        return lambda game, agent, role: policies[agent]
    return policies


def policy_label(policy: Policy) -> str:
    """Who a policy is in the records: its label, else its kind's name."""
    return policy.label or policy.name


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
            voting = first_obs["phase"] == Phase.DECISION and envs[0].config.decision_mode == "vote"
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
    """The played action's sample with the Turn the env made, plus extra vote samples judged by the game."""
    game = env.unwrapped.game
    turn = info[agent]["turn"]
    role = game.role(agent)
    group = _decision_group(game, game_index, agent) if turn.phase == Phase.DECISION else None
    samples = [TurnSample(game_index, turn, role, label, outs[0][1], 0, group)]
    for k, (text, generation) in enumerate(outs[1:], start=1):
        extra = game.judge_vote(agent, text)
        samples.append(TurnSample(game_index, extra, role, label, generation, k, group))
    return samples


def _decision_group(game: Any, game_index: int, agent: str) -> tuple:
    """Samples of one decision prompt: a voter's G samples, or all observers of a game (same prompt)."""
    return (game_index,) if game.config.decision_mode == "observer" else (game_index, agent)


def _settle(rollout: Rollout, envs: list[Any], assigned: Mapping[tuple[int, str], Policy], seed: int) -> None:
    """Record each finished game and give every sample its whole reward (0 for a spy's vote)."""
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
                transcript=list(game.turns),
                history=game.history(),
            )
        )
    for sample in rollout.samples:
        reward = turn_reward(sample.turn, rollout.games[sample.game].rewards)
        sample.reward = reward if reward is not None else 0.0
