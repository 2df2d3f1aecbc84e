"""A count or a span of time on the command line is one rule (agent/arg_types.py `positive`): finite and above 0.

review37: `listen` and `simulate` each had their own "positive number" and disagreed on infinity — `simulate
--days inf` was refused, `listen --timeout inf` taken (a timeout that never comes) — and `run --max-ticks` had
none. Each command is parsed by the agent's own parser (agent.cli.main); nothing reaches a network, reads a config
or writes a file: refused at the argument.
"""
import pytest

from agent.cli import main


@pytest.mark.parametrize("argv, flag", [
    (["listen", "--host", "127.0.0.1", "--timeout", "inf"], "--timeout"),
    (["simulate", "-c", "unread.yaml", "-o", "unwritten", "--days", "inf"], "--days"),
    (["simulate", "-c", "unread.yaml", "-o", "unwritten", "--days", "0"], "--days"),
    (["simulate", "-c", "unread.yaml", "-o", "unwritten", "--days", "nan"], "--days"),
])
def test_an_infinite_or_non_positive_span_is_a_usage_error_in_both_commands(argv, flag, capsys, tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: invalid positive float value: '{argv[-1]}'" in err
    assert not (tmp_path / "unwritten").exists()


@pytest.mark.parametrize("ticks", ["0", "-5"])
def test_run_max_ticks_not_above_0_is_a_usage_error(ticks, capsys, tmp_path, monkeypatch):
    """`run --max-ticks 0` ran until stopped (0 read as no bound: `bool(max_ticks)`), `-5` stopped at the first tick
    saying it reached --max-ticks -5; both now refused by the same rule, before the config is read."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["run", "-c", "unread.yaml", "--max-ticks", ticks])
    assert exit_.value.code == 2
    assert f"argument --max-ticks: invalid positive int value: '{ticks}'" in capsys.readouterr().err
