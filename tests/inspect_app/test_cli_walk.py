"""Every ``inspect-app`` command as a new user meets it, found by walking the parser (the plugins' commands
included): ``--help`` works, a wrong flag is one line on stderr with exit status 2, a group without an
action shows its own help, and no option is ever abbreviated."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inspect_app.cli import build_parser, main
from inspect_app.cli_parser import subcommands


def _walk(p: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, p)]
    for name, sub in subcommands(p).items():
        out += _walk(sub, (*path, name))
    return out


COMMANDS = _walk(build_parser())
GROUPS = [path for path, p in COMMANDS if path and subcommands(p)]


def test_the_walk_finds_the_plugins_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    # station, PLC, window and training commands: the last three come from entry points
    assert {"run", "demo", "results summary", "simulate-plc", "opcua hash-password", "gui",
            "ui hash-password", "train", "evaluate", "models list"} <= names
    assert len(names) > 25


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "top")
def test_help_exits_0_and_a_wrong_flag_is_one_line_and_status_2(path: tuple[str, ...], capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: inspect-app {' '.join(path)}".rstrip())

    with pytest.raises(SystemExit) as done:
        main([*path, "--no-such-flag"])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("inspect-app") and "Traceback" not in err


def test_no_parser_abbreviates_options() -> None:
    assert [" ".join(path) for path, p in COMMANDS if p.allow_abbrev] == []


@pytest.mark.parametrize("group", GROUPS, ids=" ".join)
def test_a_group_without_an_action_prints_its_own_help(group: tuple[str, ...], capsys: Any) -> None:
    assert main(list(group)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: inspect-app {' '.join(group)} ")
    assert "_command" not in err and "_cli_" not in err  # no internal dest names
    for action in subcommands(dict(COMMANDS)[group]):
        assert action in err


def test_a_prefix_of_a_flag_is_refused_as_a_real_process_sees_it(tmp_path: Path) -> None:
    # argparse's prefix matching once made --device 0 mean --devices 0
    argv = ["train", "--data", "d.yaml", "--device", "0", "--state-dir", str(tmp_path)]
    res = subprocess.run([sys.executable, "-m", "inspect_app.cli", *argv], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        "inspect-app train: unrecognized arguments: --device 0 (see inspect-app train --help)"]
    assert not any(tmp_path.iterdir())  # nothing was made


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("inspect-app ")


def test_state_dir_everywhere_and_db_a_deprecated_alias(tmp_path: Path, capsys: Any) -> None:
    p = build_parser()
    args = p.parse_command(["results", "summary", "--state-dir", str(tmp_path)])
    assert args.db == tmp_path / "results.db"
    args = p.parse_command(["dataset", "from-reviews", "--out", "x", "--db", str(tmp_path / "r.db")])
    assert args.db == tmp_path / "r.db" and "--db is deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_command(["results", "export", "--db", "a.db", "--state-dir", "b"])
    assert "not both" in capsys.readouterr().err
    # every command that works on a station's folder calls it --state-dir
    takes_a_folder = [" ".join(path) for path, sp in COMMANDS if "--state-dir" in sp._option_string_actions]
    assert {"run", "demo", "gui", "status", "trigger", "results export", "dataset from-reviews", "train",
            "evaluate", "models list"} <= set(takes_a_folder)


def test_check_config_takes_the_file_as_positional_or_option(tmp_path: Path, capsys: Any) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text('active_recipe = "r"\n[recipes.r]\nmodel = "m"\n')
    assert main(["check-config", str(cfg)]) == 0
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.count(": OK (1 recipe(s)") == 2
    assert main(["check-config"]) == 2
    assert main(["check-config", str(cfg), "--config", str(tmp_path / "other.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("inspect-app check-config: ") for line in err)


@pytest.mark.parametrize("command", [["ui", "hash-password"], ["opcua", "hash-password"]])
def test_both_hash_password_commands_take_the_password_the_same_ways(
    command: list[str], monkeypatch: Any, capsys: Any
) -> None:
    import io

    from inspect_app.passwords import verify_password

    monkeypatch.setenv("PW_FOR_TEST", "s3cret line")
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret line\n"))
    for how in (["--password-env", "PW_FOR_TEST"], ["--password-stdin"]):
        assert main([*command, *how]) == 0
        hashed = capsys.readouterr().out.split("scrypt$", 1)[1].split('"')[0].strip()
        assert verify_password("s3cret line", "scrypt$" + hashed)
    monkeypatch.delenv("PW_FOR_TEST")
    assert main([*command, "--password-env", "PW_FOR_TEST"]) == 2
    assert capsys.readouterr().err.strip() == f"inspect-app {' '.join(command)}: the environment variable " \
                                              "PW_FOR_TEST is not set"


def test_models_list_with_a_root_that_is_not_there_fails(tmp_path: Path, capsys: Any) -> None:
    assert main(["models", "list", "--root", str(tmp_path / "modles")]) == 2
    typo = tmp_path / "modles"
    assert capsys.readouterr().err.strip() == f"inspect-app models list: --root {typo}: no such folder"


def test_environment_variables_are_in_the_help(capsys: Any) -> None:
    for command in ([], ["demo"], ["gui"], ["models"], ["evaluate"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        out = capsys.readouterr().out
        assert "INSPECT_APP_MODELS" in out and "INSPECT_APP_LANG" in out, command
