"""The trainer's options, without torch: `stad-convert train --help` shows their defaults and a bad
option is refused before torch is imported (2 s idle, more on a busy workstation; the converter's
tests start ~20 processes that are refused at their options)."""
from __future__ import annotations

import math
from dataclasses import dataclass

#: The largest seed both generators take (torch.manual_seed: up to 2**64 - 1; numpy's default_rng: any integer ≥ 0).
MAX_SEED = 2**64 - 1


@dataclass
class TrainOptions:
    d_model: int = 32
    heads: int = 2                    # 2 heads train ~3× faster on CPU than 4 at d_model 32
    ff_hidden: int = 32
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 4                 # epochs without validation improvement before stopping
    seed: int = 0
    windows_per_epoch: int | None = 8192   # a seeded random subset each epoch (None: all)
    missing_augment: float = 0.02     # share of context readings hidden at random while training
    threads: int = 2
    ema_decay: float = 0.0            # > 0: validate and keep an exponential moving average of the weights
    members: int = 1                  # > 1: an ensemble of forecasters trained from seed, seed + 1, ...
    progress: bool = True

    def problems(self) -> list[str]:
        """Every option out of range, as '--flag: why' (the CLI's names); [] when they can train."""
        out = [f"--{name.replace('_', '-')}: must be at least 1, got {getattr(self, name)}"
               for name in ("d_model", "heads", "ff_hidden", "epochs", "batch_size", "threads", "members")
               if getattr(self, name) < 1]
        if self.d_model >= 1 and self.heads >= 1 and self.d_model % self.heads:
            out.append(f"--d-model: must be divisible by --heads ({self.heads}), got {self.d_model}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            out.append(f"--lr: must be a positive number, got {self.lr}")
        if not 0 <= self.seed <= MAX_SEED - max(self.members, 1) + 1:
            # (numpy's default_rng refuses a negative seed, torch's manual_seed one past 2**64 - 1: a traceback
            # after the data was read, review37; the members train from seed, seed + 1, ...)
            out.append(f"--seed: must be at least 0 and, with --members {self.members}, at most "
                       f"{MAX_SEED - max(self.members, 1) + 1}, got {self.seed}")
        if self.patience < 0:
            out.append(f"--patience: must be at least 0, got {self.patience}")
        if self.windows_per_epoch is not None and self.windows_per_epoch < 1:
            out.append(f"--windows-per-epoch: must be at least 1 (0: all), got {self.windows_per_epoch}")
        if not 0.0 <= self.ema_decay < 1.0:
            out.append(f"--ema-decay: must be in [0, 1), got {self.ema_decay}")
        return out


__all__ = ["TrainOptions"]
