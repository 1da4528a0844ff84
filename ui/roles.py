"""Roles: operator by default, engineer after a password; every switch is audited by the station.

The password is never stored: the station config holds ``scrypt$N$r$p$salt$hash`` (make one with
``inspect-app ui hash-password``). scrypt is memory-hard, so a copied config is expensive to brute-force,
and the salt makes equal passwords on two stations hash differently. This module does not import Qt, so
the CLI can hash a password on a machine without a display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspect_app.passwords import verify_password

OPERATOR = "operator"
ENGINEER = "engineer"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # upper case: the marker pylupdate6 collects
    return text


# refusals, shown to the user through translate("Roles", str(exc))
NO_PASSWORD = QT_TRANSLATE_NOOP("Roles", "No engineer password is configured ([ui] engineer_password_hash).")
WRONG_PASSWORD = QT_TRANSLATE_NOOP("Roles", "Wrong password.")
NEEDS_ENGINEER = QT_TRANSLATE_NOOP("Roles", "This needs engineer mode.")


class RoleRefused(Exception):
    """Why a role switch or an engineer action was refused; the message is shown to the user."""


class RoleManager:
    """Who is at the station and with which role. ``audit(who, role, action, target, old, new)`` is the
    station's audit method (it raises when the station is not running: then nobody becomes engineer,
    since the switch could not be recorded)."""

    def __init__(self, password_hash: str | None, audit: Callable[..., Any]) -> None:
        self.password_hash = password_hash
        self._audit = audit
        self.role = OPERATOR
        self.who = OPERATOR
        self.listeners: list[Callable[[str], None]] = []

    @property
    def is_engineer(self) -> bool:
        return self.role == ENGINEER

    def login_engineer(self, name: str, password: str) -> None:
        """Become engineer, or raise RoleRefused. Failed attempts are audited too."""
        name = name.strip() or ENGINEER
        if not self.password_hash:
            raise RoleRefused(NO_PASSWORD)
        if not verify_password(password, self.password_hash):
            self._audit(name, self.role, "role.login_failed", "ui", self.role, ENGINEER)
            raise RoleRefused(WRONG_PASSWORD)
        self._audit(name, ENGINEER, "role.switch", "ui", self.role, ENGINEER)
        self.role, self.who = ENGINEER, name
        self._notify()

    def logout(self) -> None:
        if self.role == OPERATOR:
            return
        self._audit(self.who, self.role, "role.switch", "ui", self.role, OPERATOR)
        self.role, self.who = OPERATOR, OPERATOR
        self._notify()

    def require_engineer(self) -> None:
        if not self.is_engineer:
            raise RoleRefused(NEEDS_ENGINEER)

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self.role)
