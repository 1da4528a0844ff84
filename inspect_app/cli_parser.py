"""The rules every ``inspect-app`` command follows, the plugins' commands included.

* Options are never abbreviated: argparse's prefix matching made ``train --device 0`` mean ``--devices 0``.
* A user's mistake (a wrong flag, a bad value, a missing file) is one line on stderr and exit status 2:
  parse errors are, and a command raises ``UserError``; nothing is half made before it is found.
* A command group given no action prints its own help, not the top level's and not an internal name.
* ``--state-dir DIR`` names a station's folder everywhere; ``--db FILE`` stays, deprecated, where it was.

Plugins get these rules for free: their parsers are made by ``add_parser`` on the station's subparsers,
and argparse makes every subparser of the parent's class.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

USER_ERROR = 2
DEFAULT_STATE_DIR = Path("var")
DB_FILE = "results.db"
_HELP_OF = "_cli_group_without_action"
_INNERMOST = "_cli_innermost_parser"

ENVIRONMENT = """\
environment:
  INSPECT_APP_MODELS  the models folder (default: the repository's models/): the demo's default model,
                      models list/show/promote/release, and evaluate --model NAME/VERSION
  INSPECT_APP_LANG    the window's language, en or zh_CN (default: the config's [ui] language);
                      --lang wins over it"""


class UserError(Exception):
    """A mistake of the user's: ``inspect-app`` prints it as one line on stderr and exits with status 2."""


class CommandParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)  # epilogs keep their lines
        super().__init__(*args, **kwargs)
        self._group: argparse._SubParsersAction | None = None

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def add_subparsers(self, **kwargs: Any) -> argparse._SubParsersAction:
        # a dest of its own, so that "no action given" can be seen after parsing (see parse_known_args)
        kwargs.setdefault("dest", f"_cli_action_of_{self.prog}")
        action = super().add_subparsers(**kwargs)
        action.required = False  # a group without an action prints its help instead of an error
        self._group = action
        return action

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        # a subcommand's parser returns before its parent's: setdefault keeps the innermost one
        vars(ns).setdefault(_INNERMOST, self)
        if self._group is not None and getattr(ns, self._group.dest, None) is None:
            vars(ns).setdefault(_HELP_OF, self)
        return ns, extras

    def parse_command(self, argv: Sequence[str] | None) -> argparse.Namespace:
        """Parse, reporting an unknown argument against the subcommand it was given to."""
        ns, extras = self.parse_known_args(argv)
        innermost: CommandParser = getattr(ns, _INNERMOST, self)
        if extras:
            innermost.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def group_without_action(args: argparse.Namespace) -> argparse.ArgumentParser | None:
    """The command group that was named without an action (its help is then printed), if any."""
    return getattr(args, _HELP_OF, None)


def command_name(args: argparse.Namespace, default: str = "inspect-app") -> str:
    """``inspect-app models list``: the command that ran, for its error messages."""
    parser = getattr(args, _INNERMOST, None)
    return parser.prog if parser is not None else default


def add_state_dir(p: argparse.ArgumentParser, help: str = "the station's state dir (default var/)") -> None:
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=help)


class _StateDirWithDb(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any,
                 option_string: str | None = None) -> None:
        if getattr(ns, "_cli_db_given", False):
            parser.error("give --state-dir or --db, not both")
        ns.state_dir, ns.db = Path(value), Path(value) / DB_FILE
        ns._cli_state_dir_given = True


class _DeprecatedDb(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any,
                 option_string: str | None = None) -> None:
        if getattr(ns, "_cli_state_dir_given", False):
            parser.error("give --state-dir or --db, not both")
        print(f"{parser.prog}: --db is deprecated; use --state-dir DIR (the folder holding {DB_FILE})",
              file=sys.stderr)
        ns.db, ns.state_dir = Path(value), Path(value).parent
        ns._cli_db_given = True


def state_dir_with_db_alias(p: argparse.ArgumentParser, default: Path | None = DEFAULT_STATE_DIR) -> None:
    """``--state-dir DIR`` (the results DB is DIR/results.db) and the deprecated ``--db FILE``; replaces a
    ``--db`` option the parser already has, and sets ``args.db`` and ``args.state_dir`` either way (both
    None when neither is given and ``default`` is None)."""
    old = p._option_string_actions.get("--db")
    if old is not None:  # the command's own --db gives way to the alias (argparse's "resolve" handling)
        p._handle_conflict_resolve(old, [("--db", old)])
    shown = f"default {default}/" if default is not None else "default: none"
    p.add_argument("--state-dir", action=_StateDirWithDb, metavar="DIR",
                   help=f"the station's state dir, holding {DB_FILE} ({shown})")
    p.add_argument("--db", action=_DeprecatedDb, metavar="FILE", help="deprecated: use --state-dir")
    p.set_defaults(state_dir=default, db=None if default is None else default / DB_FILE)


def subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parsers of ``p``'s subcommands by name (empty for a command that has none)."""
    return {
        name: sub
        for action in p._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    }
