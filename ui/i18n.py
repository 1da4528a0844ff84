"""English and Simplified Chinese, switchable at run time with Qt's translation files.

Sources are English; ``ui/i18n/inspect_ui_zh_CN.ts`` holds the Chinese (edit it with Qt Linguist), compiled
to the committed ``.qm`` file next to it. After changing UI strings::

    .venv/bin/pylupdate6 ui/*.py --ts ui/i18n/inspect_ui_zh_CN.ts      # collect new/changed strings
    /usr/lib/qt6/bin/lrelease ui/i18n/inspect_ui_zh_CN.ts               # Debian: qt6-l10n-tools

Every widget text goes through ``translate(context, text)`` with a literal context (pylupdate6 collects
these calls), and every widget re-reads its texts in ``retranslate()`` when Qt sends LanguageChange.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QCoreApplication, QEvent, QLibraryInfo, QLocale, QTranslator

I18N_DIR = Path(__file__).resolve().parent / "i18n"
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}  # each shown in its own language


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    return QCoreApplication.translate(context, text, disambiguation, n)


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # upper case: the name pylupdate6 looks for
    """Marks a string for translation where it is defined; ``translate`` it where it is shown."""
    return text


class Translations:
    """Installs the translators of one language into the application (ours, and Qt's own for the
    standard dialogs' buttons). Installing or removing them makes Qt send LanguageChange to every widget."""

    def __init__(self, app: QCoreApplication) -> None:
        self._app = app
        self._installed: list[QTranslator] = []
        self.language = "en"
        QLocale.setDefault(QLocale("en"))  # not the process's C locale: counts show grouped, 1,234,567

    def set_language(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
        for t in self._installed:
            self._app.removeTranslator(t)
        self._installed = []
        if lang != "en":
            ours = QTranslator(self._app)
            if not ours.load(f"inspect_ui_{lang}", str(I18N_DIR)):
                raise FileNotFoundError(f"{I18N_DIR}/inspect_ui_{lang}.qm missing (run lrelease)")
            qt = QTranslator(self._app)
            qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
            for t in (ours, qt) if qt.load(f"qtbase_{lang}", qt_dir) else (ours,):
                self._app.installTranslator(t)
                self._installed.append(t)
        QLocale.setDefault(QLocale(lang))
        self.language = lang
        # Qt announces a new translator only while the event loop runs, and only by a posted event: say
        # it now to every window (a widget passes LanguageChange on to its children), so the switch is
        # complete when this returns. A second, posted, LanguageChange later is harmless.
        from PyQt6.QtWidgets import QApplication

        if isinstance(self._app, QApplication):
            for widget in QApplication.topLevelWidgets():
                QCoreApplication.sendEvent(widget, QEvent(QEvent.Type.LanguageChange))


class Retranslatable:
    """Mixin for widgets (put it before the Qt class): calls ``retranslate()`` when the language changes."""

    def retranslate(self) -> None:
        raise NotImplementedError

    def changeEvent(self, event: QEvent | None) -> None:
        if event is not None and event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)  # type: ignore[misc]
