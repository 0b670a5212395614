"""The config file: valid files parse; invalid ones are refused naming the line."""

from __future__ import annotations

import pytest

from traceway.config import ConfigError, load_config

GOOD = """\
[sampling.tail]
decision_wait = "10s"        # after a trace's last span arrives
max_traces = 50000

[[sampling.tail.policy]]
name = "errors"
type = "status_code"
status_codes = ["ERROR"]

[[sampling.tail.policy]]
name = "slow"
type = "latency"
threshold = "500ms"

[[sampling.tail.policy]]
name = "baseline"
type = "probabilistic"
percent = 1.0

[sampling.remote.default_strategy]
type = "probabilistic"
param = 0.25

[[sampling.remote.service_strategies]]
service = "checkout"
type = "ratelimiting"
param = 5
"""


def write(tmp_path, text):
    path = tmp_path / "traceway.toml"
    path.write_text(text)
    return path


def test_the_issue_example_parses(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.tail is not None
    assert [p.name for p in config.tail.policies] == ["errors", "slow", "baseline"]
    assert config.tail.decision_wait_ns == 10_000_000_000
    assert config.remote is not None and config.remote.default.param == 0.25


def test_no_sampling_section_means_keep_everything(tmp_path):
    config = load_config(write(tmp_path, "# later: other settings\n"))
    assert config.tail is None and config.remote is None


@pytest.mark.parametrize("old, new, line, words", [
    ('threshold = "500ms"', 'threshold = "500 ms"', 13, "duration"),
    ('type = "latency"', 'type = "latancy"', 12, "unknown policy type 'latancy'"),
    ('percent = 1.0', 'percent = 101', 18, "at most 100"),
    ('percent = 1.0', 'percentage = 1.0', 18, "unknown key 'percentage'"),
    ('status_codes = ["ERROR"]', 'status_codes = ["ERR"]', 8, "ERROR"),
    ('decision_wait = "10s"', 'decision_wait = "soon"', 2, "duration"),
    ('param = 5', 'param = "five"', 27, "number"),
    ('type = "probabilistic"', 'type = probabilistic', 17, "line 17"),  # TOML syntax
])
def test_invalid_file_names_the_line(tmp_path, old, new, line, words):
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert words in message
    assert f"{path}:{line}:" in message or f"line {line}" in message, message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize("text, line, words", [
    ('retention = "1h"\n', 1, "server setting: give it as --retention or TRACEWAY_RETENTION"),
    ('[sampling.tail]\ndecision_wait = "1s"\n\n[extra]\nx = 1\n', 4, "unknown key 'extra'"),
    ('# top\ntypo = 3\n[sampling.tail]\n', 2, "unknown key 'typo'"),
    ('[sampling.tail]\ndecision_wait = "1.5x"\n', 2, "decision_wait"),
    ('[sampling.tail]\ndecision_wait = 10\n', 2, "quote it"),
])
def test_unknown_keys_and_bad_durations_name_their_line(tmp_path, text, line, words):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert f".toml:{line}:" in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize("wait, ns", [("500ms", 5 * 10**8), ("1.5s", 15 * 10**8), ("2m", 120 * 10**9),
                                      ("1h30m", 5_400 * 10**9), ("1d", 86_400 * 10**9)])
def test_config_durations_use_the_shared_grammar(tmp_path, wait, ns):
    config = load_config(write(tmp_path, f'[sampling.tail]\ndecision_wait = "{wait}"\n'))
    assert config.tail.decision_wait_ns == ns
