"""user11, a traffic engineer's first week (six loop stations over Modbus TCP, alerts over MQTT/TLS): what
surprised the user, fixed.

- `stad-convert train … 2> train.log` (or under nohup, or in a CI job): the progress line's '\\r' rewrites and
  its erase-line escape went into the file as they are, some 60 fragments an epoch, so the log's epochs could
  not be read with `less` or `grep`. Off a terminal, it now writes one plain line an epoch.
"""
from __future__ import annotations

import pytest


def test_the_progress_line_off_a_terminal_is_one_plain_line_an_epoch(capsys):
    pytest.importorskip("torch")
    from convert.train import ProgressLine
    progress = ProgressLine(True, every_s=0.0)
    for epoch in (1, 2):
        for batch in range(1, 65):
            progress.show(f"epoch {epoch:>3}/30", batch, 64, f"loss {0.1 / batch:.4f}")
        progress.show(f"epoch {epoch:>3}/30", 64, 64, "loss 0.0016 val 0.0400")
        progress.end()
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err, repr(err[:200])
    assert err.splitlines() == ["epoch   1/30 64/64 loss 0.0016 val 0.0400",
                                "epoch   2/30 64/64 loss 0.0016 val 0.0400"]

