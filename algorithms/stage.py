"""Which stage the trainer trains each iteration (clue or decision): the `stage_schedule` setting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from algorithms.advantages import MeanAllReduce
from algorithms.train_config import STAGES, SPOConfig
from vz_env.settings import named
from vz_env.turn import Phase

FIXED_STAGES = {"decision-only": Phase.DECISION, "clue-only": Phase.CLUE}
"""The schedules that always train one stage, and that stage."""


class StageController:
    """Picks the training stage from EMAs (start 0) of the decision accuracy and N/A rate (docs/spec.md s6).

    Order, for iterations t = 1, 2, ...:
      1. the trainer trains iteration t in `stage`; every game of iteration t still ends with decision
         samples, whose accuracy and N/A rate (each a fraction of all decision samples) it measures;
      2. it calls `update(acc_t, na_t)`: the stats are averaged across processes (`all_reduce`), each EMA
         takes ema <- rho * ema + (1 - rho) * x, and `iterations_in_stage` counts iteration t;
      3. if the schedule's rule holds after iteration t, the stage flips and `iterations_in_stage` restarts
         at 0. The returned stage is the one iteration t + 1 trains in.
    Schedule "adaptive": once `iterations_in_stage` >= `min_stage_iters`, decision -> clue when
    acc_ema >= switch_to_clue_acc and na_ema <= switch_to_clue_na, clue -> decision when
    1 - acc_ema >= switch_to_decision_err or na_ema >= switch_to_decision_na; and once it reaches
    `stage_patience` the stage flips whatever the EMAs. With `stage_ema_bias_correction` the rules (and the
    `acc_ema`/`na_ema` properties) use each EMA divided by 1 - rho^t, t the number of updates so far.
    Schedule "alternate": flip every `alternate_every` iterations whatever the stats. Schedules
    "decision-only" and "clue-only" never flip (and ignore `start_stage`). Every schedule keeps the EMAs.
    """

    def __init__(self, config: SPOConfig | None = None, all_reduce: MeanAllReduce | None = None) -> None:
        self.config = config if config is not None else SPOConfig()
        self._all_reduce = all_reduce
        self._stage = FIXED_STAGES.get(self.config.stage_schedule, self.config.start_stage)
        self._updates = 0
        self._iterations_in_stage = 0
        self._acc_ema = 0.0
        self._na_ema = 0.0

    @property
    def stage(self) -> Phase:
        """The stage the next (or current) iteration trains: DECISION or CLUE."""
        return self._stage

    @property
    def iterations_in_stage(self) -> int:
        """Iterations completed (passed to `update`) since the current stage began."""
        return self._iterations_in_stage

    @property
    def acc_ema(self) -> float:
        """EMA of the decision accuracy (bias-corrected when the config asks for it)."""
        return self._corrected(self._acc_ema)

    @property
    def na_ema(self) -> float:
        """EMA of the decision N/A rate (bias-corrected when the config asks for it)."""
        return self._corrected(self._na_ema)

    def _corrected(self, ema: float) -> float:
        """The EMA divided by 1 - rho^t when bias correction is on (and after at least one update)."""
        if not self.config.stage_ema_bias_correction or self._updates == 0:
            return ema
        return ema / (1 - self.config.stage_ema_rho**self._updates)

    def update(self, accuracy: float, na_rate: float) -> Phase:
        """Absorb one finished iteration's decision stats and return the stage for the next iteration."""
        for name, value in (("accuracy", accuracy), ("na_rate", na_rate)):
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
        if self._all_reduce is not None:
            mean = self._all_reduce(torch.tensor([accuracy, na_rate], dtype=torch.float64))
            accuracy, na_rate = (float(v) for v in mean.tolist())
        rho = self.config.stage_ema_rho
        self._acc_ema = rho * self._acc_ema + (1 - rho) * accuracy
        self._na_ema = rho * self._na_ema + (1 - rho) * na_rate
        self._updates += 1
        self._iterations_in_stage += 1
        if self._should_switch():
            self._stage = Phase.CLUE if self._stage == Phase.DECISION else Phase.DECISION
            self._iterations_in_stage = 0
        return self._stage

    def _should_switch(self) -> bool:
        """Whether the schedule ends the current stage now."""
        cfg = self.config
        if cfg.stage_schedule in FIXED_STAGES:
            return False
        if cfg.stage_schedule == "alternate":
            return self._iterations_in_stage >= cfg.alternate_every
        if self._iterations_in_stage < cfg.min_stage_iters:
            return False
        if self._iterations_in_stage >= cfg.stage_patience:
            return True
        acc, na = self.acc_ema, self.na_ema
        if self._stage == Phase.DECISION:
            return acc >= cfg.switch_to_clue_acc and na <= cfg.switch_to_clue_na
        return 1 - acc >= cfg.switch_to_decision_err or na >= cfg.switch_to_decision_na

    def state_dict(self) -> dict[str, Any]:
        """Stage (by name), update and dwell counts, and the raw EMAs, for checkpoints."""
        return {
            "stage": str(self._stage),
            "updates": self._updates,
            "iterations_in_stage": self._iterations_in_stage,
            "acc_ema": self._acc_ema,
            "na_ema": self._na_ema,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` wrote."""
        missing = {"stage", "updates", "iterations_in_stage", "acc_ema", "na_ema"} - set(state)
        if missing:
            raise ValueError(f"StageController state lacks {sorted(missing)}")
        stage = named(Phase, state["stage"])
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {tuple(map(str, STAGES))}, got {state['stage']!r}")
        self._stage = stage
        self._updates = int(state["updates"])
        self._iterations_in_stage = int(state["iterations_in_stage"])
        self._acc_ema = float(state["acc_ema"])
        self._na_ema = float(state["na_ema"])
