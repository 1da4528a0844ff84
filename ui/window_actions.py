"""What the operator and the engineer can do from the window, as a mixin of ``MainWindow``.

Each action goes to the station's public API. Calls that only queue something (trigger, review, audit,
recipe switch, counter reset) are made on the Qt thread: they never wait. The one call that does real
work, loading a model release, runs in a worker thread. Writes come back as futures; their completion is
posted to the feed and handled by the display timer on the Qt thread (``on_post``).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtWidgets import QDialog, QMessageBox

from inspect_app.promotion import GateRefused, promote_on_station
from inspect_app.promotion_gate import GateCheck
from inspect_app.rules import RecipeError
from inspect_app.station import NotRunning
from inspect_app.store import StoreError
from ui.audit_view import AuditView
from ui.i18n import QT_TRANSLATE_NOOP, translate
from ui.login_dialog import LoginDialog
from ui.recipe_editor import RecipeEditor, find_releases
from ui.reject_view import RejectView
from ui.replay_preview import PreviewSource
from ui.roles import RoleRefused

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)

AUDIT_ROWS = 500


class WindowActions:
    _reject_view: RejectView | None = None
    _recipe_editor: RecipeEditor | None = None
    _audit_view: AuditView | None = None

    # ---------------------------------------------------------------- run control
    def start_station(self: MainWindow) -> None:
        if self.controller.start(self.roles.who, self.roles.role):
            self.phase = "starting"
            self._lights_at = 0.0
            self.show_message(lambda: translate("MainWindow", "Starting: loading and verifying the models…"))

    def stop_station(self: MainWindow) -> None:
        if self.controller.stop():
            self.phase = "stopping"
            self._lights_at = 0.0
            self.show_message(lambda: translate("MainWindow", "Stopping: saving every queued result…"))

    def trigger_once(self: MainWindow) -> None:
        st = self.controller.station
        if st is None:
            return
        try:
            req = st.trigger(source="software")
        except NotRunning as exc:
            self.show_message(str(exc), error=True)
            return
        self.show_message(lambda: translate("MainWindow", "Triggered part {0}").format(req.part_id))

    def acknowledge_error(self: MainWindow) -> None:
        st = self.controller.station
        if st is None:
            return
        if st.reset(who=self.roles.who):
            self.show_message(lambda: translate("MainWindow", "Error acknowledged."))
        else:
            self.show_message(lambda: translate("MainWindow",
                                                "The cause of the error is still there: not reset."),
                              error=True)

    def reset_counters(self: MainWindow, confirm: bool = True) -> bool:
        st = self.controller.station
        if st is None:
            return False
        if confirm:
            answer = QMessageBox.question(self, translate("MainWindow", "Reset counters"),
                                          translate("MainWindow", "Start a new shift count? The reset is "
                                                                  "recorded in the audit trail."))
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self._track(st.reset_counters(self.roles.who, self.roles.role), "audit", "counters")
        self.feed.reset_stats()
        return True

    # ---------------------------------------------------------------- roles
    def _audit(self: MainWindow, who: str, role: str, action: str, target: str, old: Any, new: Any) -> None:
        st = self.controller.station
        if st is None:
            raise RoleRefused(translate("MainWindow", "Start the station first: it records the audit trail."))
        self._track(st.audit(who, role, action, target, old, new), "audit", action)

    def engineer_login(self: MainWindow, name: str, password: str) -> str | None:
        """None when now engineer, else why not (already translated)."""
        try:
            self.roles.login_engineer(name, password)
        except RoleRefused as exc:
            return translate("Roles", str(exc))
        who = self.roles.who  # as it is now: the message may be written again after a logout
        self.show_message(lambda: translate("MainWindow", "Engineer mode: {0}").format(who))
        return None

    def toggle_engineer(self: MainWindow) -> None:
        if self.roles.is_engineer:
            self.engineer_logout()
            return
        dialog = LoginDialog(self)
        while dialog.exec() == QDialog.DialogCode.Accepted:
            error = self.engineer_login(dialog.name.text(), dialog.password.text())
            if error is None:
                return
            dialog.error.setText(error)
            dialog.password.clear()

    def engineer_logout(self: MainWindow) -> None:
        try:
            self.roles.logout()
        except (RoleRefused, StoreError):  # station stopped: the role still drops, unrecorded
            self.roles.role = self.roles.who = "operator"
            self.retranslate()
        if self._recipe_editor is not None:
            self._recipe_editor.close()

    # ---------------------------------------------------------------- recipes and models
    def select_recipe(self: MainWindow, name: str) -> bool:
        st = self.controller.station
        if st is None or name == st.recipe:
            return False
        old = st.recipe
        if not self.roles.is_engineer:
            self.recipe_box.setCurrentText(old)
            self._audit(self.roles.who, self.roles.role, "recipe.switch_refused", "station", old, name)
            self.show_message(lambda: translate("MainWindow", "Switching recipes needs engineer mode."),
                              error=True)
            return False
        st.set_recipe(name, who=self.roles.who)
        self._audit(self.roles.who, self.roles.role, "recipe.switch", "station", old, name)
        self.show_message(lambda: translate("MainWindow", "Recipe {0} from the next part on.").format(name))
        return True

    def open_recipe_editor(self: MainWindow) -> RecipeEditor | None:
        st = self.controller.station
        if st is None:
            return None
        if not self.roles.is_engineer:
            self.show_message(lambda: translate("Roles", "This needs engineer mode."), error=True)
            return None
        if self._recipe_editor is None:
            self._recipe_editor = RecipeEditor(self)
            self._recipe_editor.apply_requested.connect(self.apply_recipe)
            self._recipe_editor.switch_model_requested.connect(self.switch_model)
        names = {path: tuple(det.info.names) for path, det in st.models().items()}
        self._recipe_editor.load(st.config.recipes, names, find_releases(self.releases_root), st.recipe)
        self._recipe_editor.set_preview_source(PreviewSource(
            Path(st.config.state_dir) / st.config.store.db, st.config,
            {path: det.info for path, det in st.models().items()},
        ))  # fmt: skip
        self._recipe_editor.show()
        self._recipe_editor.raise_()
        return self._recipe_editor

    def apply_recipe(self: MainWindow, name: str, recipe: Any) -> None:
        st, editor = self.controller.station, self._recipe_editor
        if st is None or editor is None:
            return
        try:
            self.roles.require_engineer()
            future = st.set_recipe_config(name, recipe, self.roles.who, self.roles.role)
        except (RoleRefused, RecipeError, StoreError) as exc:
            text = translate("Roles", str(exc)) if isinstance(exc, RoleRefused) else str(exc)
            editor.show_message(False, text)
            return
        self._track(future, "recipe", name)
        text = translate("RecipeEditor", "Applied: recipe {0} from the next part on.").format(name)
        if st.config.source_file is None:
            text += " " + translate("RecipeEditor", "Not saved to a file: this station has no config file "
                                    "(demo), so the change lasts until it stops.")
        else:
            text += " " + translate("RecipeEditor", "Saving it to {0}…").format(st.config.source_file.name)
        editor.show_message(True, text)

    def switch_model(self: MainWindow, recipe: str, model_dir: str) -> None:
        st = self.controller.station
        if st is None or not self.roles.is_engineer:
            return
        who, role = self.roles.who, self.roles.role

        def work() -> None:  # the gate replays the line's parts and loads the release: not on the Qt thread
            try:
                _result, future = promote_on_station(st, recipe, model_dir, who, role)
            except Exception as exc:  # thread boundary: GateRefused, ModelError, RecipeError... to the editor
                log.exception("model switch of %s to %s refused", recipe, model_dir)
                self.feed.post(("model", recipe, exc))
                return
            self.feed.post(("model", recipe, future))

        self.controller.spawn(work, "ui-switch-model")  # its model's threads: the station's priority

    # ---------------------------------------------------------------- reviews
    def open_result(self: MainWindow, inspection_id: int) -> RejectView:
        if self._reject_view is None:
            self._reject_view = RejectView(self)
            self._reject_view.review_requested.connect(self.submit_review)
        self.reader.request("detail", inspection_id)
        return self._reject_view

    def submit_review(self: MainWindow, iid: int, kind: str, class_name: Any, box: Any, note: str) -> None:
        st = self.controller.station
        view = self._reject_view
        if st is None:
            if view is not None:
                view.saved(False, translate("MainWindow", "the station is stopped"))
            return
        try:
            future = st.review(iid, kind, self.roles.who, class_name=class_name, box=box, note=note)
        except (ValueError, StoreError) as exc:
            if view is not None:
                view.saved(False, str(exc))
            return
        self._track(future, "review", iid)

    def on_read_detail(self: MainWindow, kind: str, payload: Any) -> None:
        view = self._reject_view
        if kind == "audit":
            if self._audit_view is not None:
                self._audit_view.set_rows(payload)
            return
        if view is None:
            return
        if kind == "detail":
            recipe = payload["row"].get("recipe")
            names, roi = self.names_and_roi(recipe)
            view.load(payload, names, roi, self.shown_names(recipe))
            view.show()
            view.raise_()
        elif kind == "reviews" and payload["id"] == view.inspection_id:
            view.show_reviews(payload["reviews"])

    def open_audit_view(self: MainWindow) -> AuditView:
        if self._audit_view is None:
            self._audit_view = AuditView(self)
            self._audit_view.refresh_requested.connect(lambda: self.reader.request("audit", AUDIT_ROWS))
        self.reader.request("audit", AUDIT_ROWS)
        self._audit_view.show()
        self._audit_view.raise_()
        return self._audit_view

    # ---------------------------------------------------------------- completions and language
    def _track(self: MainWindow, future: Future, kind: str, context: Any) -> None:
        future.add_done_callback(lambda f: self.feed.post((kind, context, f)))

    def on_post(self: MainWindow, post: tuple[str, Any, Any]) -> None:
        kind, context, outcome = post
        error = outcome if isinstance(outcome, BaseException) else (
            outcome.exception() if isinstance(outcome, Future) and outcome.done() else None)
        if kind == "model" and isinstance(outcome, Future) and error is None:
            self._track(outcome, "recipe", context)  # the audit row of the switch
            if self._recipe_editor is not None:
                self.open_recipe_editor()  # reload: new classes, new model path
                self._recipe_editor.show_message(True, translate("RecipeEditor", "Model switched."))
            return
        if kind == "review" and self._reject_view is not None:
            self._reject_view.saved(error is None, str(error or ""))
            self.reader.request("reviews", context)
        elif kind in ("model", "recipe") and error is not None and self._recipe_editor is not None:
            self._recipe_editor.show_message(False, _refusal_text(error))
        elif kind == "audit" and self._audit_view is not None and self._audit_view.isVisible():
            self.reader.request("audit", AUDIT_ROWS)
        if error is not None:
            self.show_message(f"{kind}: {error}", error=True)

    def set_language(self: MainWindow, lang: str) -> None:
        self.translations.set_language(lang)  # Qt sends LanguageChange: every widget retranslates
        self.language_box.setCurrentIndex(self.language_box.findData(lang))

    def close_dialogs(self: MainWindow) -> None:
        for dialog in (self._reject_view, self._recipe_editor, self._audit_view):
            if dialog is not None:
                dialog.close()


def _refusal_text(error: BaseException) -> str:
    """A gate's refusal in the engineer's language, with the checks that failed (their figures as the gate
    wrote them); any other error as it is."""
    if not isinstance(error, GateRefused):
        return str(error)
    head = translate("RecipeEditor", "Not switched: the promotion gate refused {0}.")
    head = head.format(error.result.candidate)
    return "\n".join([head, *(gate_check_text(c) for c in error.result.failed())])


# one failed gate check per template, filled from the check's figures (the gate's own text is English)
GATE_TEXT = {
    "defects": QT_TRANSLATE_NOOP(
        "Gate", "Confirmed defects: {0} of {1} reviewed defects would PASS (inspections {2})"),
    "false_rejects": QT_TRANSLATE_NOOP(
        "Gate", "False rejects: {0} of {1} reviewed false rejects PASS ({2:.0%}, needed {3:.0%})"),
    "agreement": QT_TRANSLATE_NOOP(
        "Gate", "Agreement: {0} of {1} parts agree with the live verdict ({2:.1%}, needed {3:.0%})"),
    "too_few": QT_TRANSLATE_NOOP("Gate", "; at least {0} parts needed"),
    "no_parts": QT_TRANSLATE_NOOP("Gate", "Agreement: no replayed or shadowed parts (at least {0} needed)"),
    "metric": QT_TRANSLATE_NOOP(
        "Gate", "Test {0}: {1:.4f} against the live model's {2:.4f} (at most {3} lower)"),
}  # fmt: skip


def gate_check_text(check: GateCheck) -> str:
    """One failed gate check in the window's language, from its figures; the gate's English otherwise."""
    f = check.figures

    def text(key: str, *args: object) -> str:
        return translate("Gate", GATE_TEXT[key]).format(*args)

    if check.name == "confirmed defects" and "escapes" in f:
        return text("defects", f["escapes"], f["judged"], f["ids"])
    if check.name == "false rejects" and "passed" in f:
        return text("false_rejects", f["passed"], f["judged"], f["share"], f["needed"])
    if check.name == "agreement" and "parts" in f:
        out = text("agreement", f["agreeing"], f["parts"], f["share"], f["needed"])
        return out + (text("too_few", f["min_parts"]) if f["parts"] < f["min_parts"] else "")
    if check.name == "agreement" and "min_parts" in f:
        return text("no_parts", f["min_parts"])
    if "metric" in f:
        return text("metric", f["metric"], f["candidate"], f["live"], f["tolerance"])
    return f"{check.name}: {check.detail}"
