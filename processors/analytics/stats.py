"""Is one A/B arm's rate really different from another's? A two-proportion z-test, its confidence interval, and how
many more messages a test at the observed rates would need (a power calculation), said in plain words.

The method, as the report page names it: the z statistic uses the pooled standard error (the null hypothesis says
both arms share one rate); the confidence interval of the difference is Wald's, with the unpooled standard error.
Both rely on the normal approximation, which needs at least ``MIN_EVENTS`` successes and failures in each arm: below
that the verdict says there is not enough data yet, whatever the p-value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

MIN_EVENTS = 5
POWER = 0.8
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Comparison:
    """Arm B's rate minus arm A's: the difference (a proportion, × 100 for points), its interval, z and two-sided p.

    ``needed_per_arm``: messages per arm a test with ``POWER`` would need to tell the observed rates apart at this
    confidence (None when the rates are equal: no difference to detect).
    """

    metric: str
    unit: str
    arm_a: str
    arm_b: str
    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    confidence: float
    needed_per_arm: int | None

    @property
    def significant(self) -> bool:
        return self.p_value < 1 - self.confidence and self.enough_events

    @property
    def enough_events(self) -> bool:
        """Each arm has ``MIN_EVENTS`` successes and failures: the normal approximation holds."""
        return min(self.successes_a, self.trials_a - self.successes_a, self.successes_b, self.trials_b - self.successes_b) >= MIN_EVENTS

    def verdict(self) -> str:
        """The plain-language verdict, e.g. ``B arm: +12.4 pts click rate vs A, significant at 95 %``."""
        level = f"{self.confidence * 100:g} %"
        if self.trials_a == 0 or self.trials_b == 0:
            empty = self.arm_a if self.trials_a == 0 else self.arm_b
            return f"not enough data yet: no {self.unit} in arm {empty}"
        if self.needed_per_arm is None:
            return f"no difference in {self.metric} between {self.arm_a} and {self.arm_b} (equal rates)"
        leader, points = (self.arm_b, self.difference) if self.difference >= 0 else (self.arm_a, -self.difference)
        behind = self.arm_a if leader == self.arm_b else self.arm_b
        observed = f"{leader} arm: +{points * 100:.1f} pts {self.metric} vs {behind}"
        if self.significant:
            return f"{observed}, significant at {level} (p = {self.p_value:.3g})"
        more = self.more_needed()
        if more:
            return f"not enough data yet: {more:,} more {self.unit} needed ({observed} so far, not significant at {level})"
        if not self.enough_events:
            return (f"not enough data yet: {observed} so far, but an arm has fewer than {MIN_EVENTS} messages on one side "
                    f"of the {self.metric}, too few for this test")
        return f"no significant difference at {level}: {observed} (p = {self.p_value:.3g}), with enough data to see one of this size"

    def more_needed(self) -> int:
        """``unit`` still missing (both arms together) before a test at the observed rates has its power; 0 when none."""
        if self.needed_per_arm is None:  # equal rates: nothing to detect
            return 0
        return max(0, self.needed_per_arm - self.trials_a) + max(0, self.needed_per_arm - self.trials_b)


def compare(metric: str, unit: str, arm_a: str, successes_a: int, trials_a: int, arm_b: str, successes_b: int, trials_b: int,
            confidence: float = 0.95) -> Comparison:
    """Two-proportion z-test of B against A (two-sided), its Wald interval, and the sample size ``POWER`` needs.

    ``metric`` names the rate (``click rate``), ``unit`` its denominator (``deliveries``): both appear in the verdict."""
    if not (0 <= successes_a <= trials_a and 0 <= successes_b <= trials_b):
        raise ValueError("successes must be between 0 and the number of trials")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rate_a = successes_a / trials_a if trials_a else 0.0
    rate_b = successes_b / trials_b if trials_b else 0.0
    difference = rate_b - rate_a
    z_crit = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    z, p_value = 0.0, 1.0
    if trials_a and trials_b:
        pooled = (successes_a + successes_b) / (trials_a + trials_b)
        pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
        if pooled_se > 0:
            z = difference / pooled_se
            p_value = 2 * (1 - _NORMAL.cdf(abs(z)))
    se = math.sqrt(rate_a * (1 - rate_a) / trials_a + rate_b * (1 - rate_b) / trials_b) if trials_a and trials_b else 0.0
    return Comparison(metric, unit, arm_a, arm_b, successes_a, trials_a, successes_b, trials_b, difference,
                      difference - z_crit * se, difference + z_crit * se, z, p_value, confidence,
                      sample_size(rate_a, rate_b, confidence))


def sample_size(rate_a: float, rate_b: float, confidence: float = 0.95, power: float = POWER) -> int | None:
    """Messages per arm for a two-sided two-proportion test at ``confidence`` to detect ``rate_a`` vs ``rate_b`` with
    ``power`` (the usual normal-approximation formula); None when the rates are equal."""
    if rate_a == rate_b:
        return None
    z_alpha = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    z_beta = _NORMAL.inv_cdf(power)
    mean = (rate_a + rate_b) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(rate_a * (1 - rate_a) + rate_b * (1 - rate_b))
    return max(1, math.ceil(spread ** 2 / (rate_a - rate_b) ** 2))
