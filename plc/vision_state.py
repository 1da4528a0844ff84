"""The OPC 40100 VisionStateMachine as the PLC/MES sees it, layered over the station's own state.

The station decides Error (a stuck stage, a dead camera) and whether it runs at all; this layer adds what only
the OPC UA clients ask for: Halt, SelectModeAutomatic, the prepared recipe, single jobs and a continuous run.
The station selects automatic mode itself at start (the spec allows the automatic transition), so a PLC that
only uses the flat handshake never has to call a method.

Methods raise :class:`Refused` with the OPC UA status name; the server turns it into a Bad status code.
"""

from __future__ import annotations

import enum

from inspect_app.state import StationState


class Top(enum.StrEnum):
    PREOPERATIONAL = "Preoperational"
    HALTED = "Halted"
    ERROR = "Error"
    OPERATIONAL = "Operational"


class Auto(enum.StrEnum):
    INITIALIZED = "Initialized"
    READY = "Ready"
    SINGLE = "SingleExecution"
    CONTINUOUS = "ContinuousExecution"


class Refused(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # a ua.StatusCodes name, e.g. "BadInvalidState"


class VisionStateMachine:
    def __init__(self, prepared: str | None, free_run: bool) -> None:
        self.prepared = prepared  # the recipe ready for jobs; None = Initialized
        self.free_run = free_run  # the station runs continuously by configuration
        self.halted = False
        self.preoperational = False
        self.continuous = False  # a StartContinuous run driven by the link
        self.single_jobs: set[int] = set()  # trigger ids of StartSingleJob parts not yet committed

    def current(self, station: StationState) -> tuple[Top, Auto | None]:
        if station == StationState.ERROR:
            return Top.ERROR, None
        if station in (StationState.HALTED, StationState.PREOPERATIONAL):
            return Top(str(station)), None
        if self.halted:
            return Top.HALTED, None
        if self.preoperational:
            return Top.PREOPERATIONAL, None
        if self.prepared is None:
            return Top.OPERATIONAL, Auto.INITIALIZED
        if self.continuous or (self.free_run and station == StationState.CONTINUOUS):
            return Top.OPERATIONAL, Auto.CONTINUOUS
        if self.single_jobs:
            return Top.OPERATIONAL, Auto.SINGLE
        return Top.OPERATIONAL, Auto.READY

    def accepts_plc_triggers(self, station: StationState) -> bool:
        """The flat handshake is answered in every Operational sub-state and in Error (with NOT_INSPECTED, so
        the PLC learns the part was not inspected); Halted and Preoperational refuse it."""
        top, _ = self.current(station)
        return top in (Top.OPERATIONAL, Top.ERROR) and not (top == Top.OPERATIONAL and self.prepared is None)

    def label(self, station: StationState) -> str:
        top, auto = self.current(station)
        return f"{top}.{auto}" if auto else str(top)

    # ------------------------------------------------------------------ methods
    def _require(self, station: StationState, allowed: tuple[Auto, ...], what: str) -> None:
        top, auto = self.current(station)
        if top != Top.OPERATIONAL or auto not in allowed:
            need = " or ".join(str(a) for a in allowed)
            raise Refused(
                "BadInvalidState", f"{what} needs Operational.{need}; the system is {self.label(station)}"
            )

    def start_single_job(self, station: StationState, recipe_id: str) -> None:
        self._require(station, (Auto.READY, Auto.SINGLE), "StartSingleJob")
        if recipe_id and recipe_id != self.prepared:
            raise Refused(
                "BadInvalidArgument", f"recipe {recipe_id!r} is not prepared (prepared: {self.prepared})"
            )

    def job_started(self, trigger_id: int) -> None:
        self.single_jobs.add(trigger_id)

    def job_done(self, trigger_id: int) -> bool:
        if trigger_id in self.single_jobs:
            self.single_jobs.discard(trigger_id)
            return True
        return False

    def start_continuous(self, station: StationState) -> None:
        self._require(station, (Auto.READY,), "StartContinuous")
        self.continuous = True

    def stop(self, station: StationState) -> None:
        top, auto = self.current(station)
        if top == Top.OPERATIONAL and auto == Auto.CONTINUOUS and not self.continuous:
            raise Refused(
                "BadNotSupported", "the station free-runs by configuration (trigger.mode = free_run)"
            )
        self._require(station, (Auto.CONTINUOUS,), "Stop")
        self.continuous = False

    def abort(self, station: StationState) -> None:
        """Stops issuing parts; parts already triggered are still inspected and reported (never dropped)."""
        self._require(station, (Auto.SINGLE, Auto.CONTINUOUS), "Abort")
        if self.free_run and not self.continuous and not self.single_jobs:
            raise Refused(
                "BadNotSupported", "the station free-runs by configuration (trigger.mode = free_run)"
            )
        self.continuous = False
        self.single_jobs.clear()

    def halt(self, station: StationState) -> None:
        top, _ = self.current(station)
        if top == Top.HALTED:
            raise Refused("BadInvalidState", "already Halted")
        self.halted = True
        self.continuous = False

    def reset_halted(self, station: StationState) -> bool:
        """Reset from Halted goes to Preoperational (then SelectModeAutomatic); False if not Halted here."""
        if self.current(station)[0] == Top.HALTED and self.halted:
            self.halted = False
            self.preoperational = True
            return True
        return False

    def select_mode_automatic(self, station: StationState) -> None:
        top, _ = self.current(station)
        if top != Top.PREOPERATIONAL or not self.preoperational:
            raise Refused("BadInvalidState", f"SelectModeAutomatic needs Preoperational; the system is {top}")
        self.preoperational = False

    def prepare(self, station: StationState, recipe: str) -> None:
        top, auto = self.current(station)
        if top not in (Top.OPERATIONAL, Top.PREOPERATIONAL) or (
            auto in (Auto.SINGLE, Auto.CONTINUOUS) and (self.continuous or self.single_jobs)
        ):
            raise Refused("BadInvalidState", f"PrepareRecipe not allowed while {self.label(station)}")
        self.prepared = recipe

    def unprepare(self, station: StationState, recipe: str) -> None:
        if recipe != self.prepared:
            raise Refused(
                "BadInvalidArgument", f"recipe {recipe!r} is not prepared (prepared: {self.prepared})"
            )
        _, auto = self.current(station)
        if auto in (Auto.SINGLE, Auto.CONTINUOUS) and (self.continuous or self.single_jobs):
            raise Refused("BadInvalidState", f"UnprepareRecipe not allowed while {self.label(station)}")
        self.prepared = None
