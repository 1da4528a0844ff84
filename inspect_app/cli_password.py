"""How a new password reaches the two ``hash-password`` commands (``ui`` and ``opcua``), the same way for
both: typed twice at a prompt (the default), one line on stdin (``--password-stdin``, for scripts), or an
environment variable (``--password-env NAME``, for CI and containers)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from inspect_app.cli_parser import UserError


def add_password_input(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    src.add_argument("--password-env", metavar="NAME", default=None,
                     help="read the password from the environment variable NAME")


def read_new_password(args: argparse.Namespace) -> str:
    """The password, or UserError (empty, unset variable, the two prompts differ)."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif args.password_env:
        if args.password_env not in os.environ:
            raise UserError(f"the environment variable {args.password_env} is not set")
        password = os.environ[args.password_env]
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("the two passwords differ")
    if not password:
        raise UserError("an empty password is refused")
    return password
