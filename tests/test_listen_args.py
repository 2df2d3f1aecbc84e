"""`stad-agent listen` refuses arguments it cannot use before it connects (exit 2, the argument
named), instead of retrying a port that cannot exist or subscribing to a filter paho refuses on its
network thread and then waiting for nothing. No broker is needed: nothing here reaches the network."""
import pytest

from agent.cli import main


@pytest.mark.parametrize("argv, said", [
    (["--port", "70000"], "--port"),
    (["--port", "0"], "--port"),
    (["--count", "0"], "--count"),
    (["--timeout", "-1"], "--timeout"),
    (["--timeout", "nan"], "--timeout"),
])
def test_bad_number_is_a_usage_error(argv, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["listen", "--host", "127.0.0.1", *argv])
    assert exit_.value.code == 2
    assert f"argument {said}" in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["--site", "a/b"], "--site 'a/b'"),
    (["--node", "x+"], "--node 'x+'"),
    (["--node", "#"], "--node '#'"),
    (["--prefix", "x#"], "--prefix 'x#'"),
    (["--prefix", "a/+b"], "--prefix 'a/+b'"),
])
def test_bad_subscription_is_refused_before_connecting(argv, said, caplog):
    assert main(["listen", "--host", "127.0.0.1", "--timeout", "1", *argv]) == 2
    assert said in caplog.text


def test_wildcards_and_a_multi_level_prefix_pass():
    from agent.listen_options import filter_problem
    from agent.cli import build_parser
    args = build_parser("listen").parse_args(["listen", "--prefix", "plant/east", "--site", "+", "--node", "gw-1"])
    assert filter_problem(args) is None
