"""The time left in a training run, from the times its steps ended."""
from __future__ import annotations

from collections import deque


class RemainingTime:
    """Seconds left in a run, from the times its steps ended.

    Steps are steady, but a few intervals are not steps: the first epoch's replay snapshots and each epoch's
    end (a pass over the test set, a checkpoint). The estimate is a typical step (the median of the last
    WINDOW intervals, which those outliers do not move) times the steps left, plus each epoch end still to
    come at what the ones so far took; before the first epoch end, at what the slow intervals took (they were
    passes over the test set too). A mean over the last interval alone would swing with every outlier."""
    WINDOW = 200

    def __init__(self, steps_per_epoch: int, total_steps: int):
        self.steps_per_epoch, self.total_steps = max(1, steps_per_epoch), total_steps
        self.per_step: deque[float] = deque(maxlen=self.WINDOW)
        self.epoch_ends: list[float] = []         # seconds an epoch end added to its interval
        self.slow: list[float] = []               # seconds other outliers (snapshots) added
        self.last: tuple[int, float] | None = None

    def step_ended(self, step: int, now: float) -> None:
        if self.last is not None and step > self.last[0]:
            done, before = step - self.last[0], self.last[0]
            seconds = (now - self.last[1]) / done
            typical = self._typical()
            if before > 0 and before % self.steps_per_epoch == 0 and done == 1:
                if typical is not None:
                    self.epoch_ends.append(max(0.0, now - self.last[1] - typical))
            else:
                if typical is not None and seconds > 3 * typical:
                    self.slow.append((seconds - typical) * done)
                self.per_step.append(seconds)
        self.last = (step, now)

    def _typical(self) -> float | None:
        if not self.per_step:
            return None
        ordered = sorted(self.per_step)
        return ordered[len(ordered) // 2]

    def seconds_left(self) -> float | None:
        """None until two steps have ended."""
        typical = self._typical()
        if typical is None or self.last is None:
            return None
        step = self.last[0]
        ends_left = self.total_steps // self.steps_per_epoch - (step - 1) // self.steps_per_epoch
        extra = self.epoch_ends or self.slow
        end = sum(extra) / len(extra) if extra else 0.0
        return (self.total_steps - step) * typical + max(0, ends_left) * end
