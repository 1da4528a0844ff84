"""The OPC UA methods of the VisionSystem, mapped to the station's public API.

Every method answers; a call that is not allowed in the current state, or with bad arguments, returns a Bad
status code (BadInvalidState, BadInvalidArgument, ...) with the reason in the server log, never an exception
trace. Who may call what is checked before the call (plc.security.RolePermissions); the caller's name is
recorded with every change it makes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asyncua import ua

from inspect_app.state import StationState
from plc.events import JobMeta
from plc.results_query import ResultNotFound
from plc.security import current_user
from plc.vision_state import Refused

if TYPE_CHECKING:
    from plc.server import EmbeddedServer

log = logging.getLogger(__name__)
S = ua.VariantType.String


def _val(arg: Any) -> Any:
    return arg.Value if isinstance(arg, ua.Variant) else arg


def _who() -> str:
    user = current_user.get()
    return f"opcua:{user.name or 'anonymous'}" if user else "opcua"


def _bad(status: str, message: str) -> ua.StatusCode:
    log.warning("OPC UA method refused (%s): %s", status, message)
    return ua.StatusCode(getattr(ua.StatusCodes, status))


class MethodHandlers:
    def __init__(self, core: EmbeddedServer) -> None:
        self.core = core

    def table(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        names = (
            "StartSingleJob",
            "StartContinuous",
            "Stop",
            "Abort",
            "Reset",
            "Halt",
            "SelectModeAutomatic",
            "PrepareRecipe",
            "UnprepareRecipe",
            "GetRecipeListFiltered",
            "GetResultById",
            "GetResultListFiltered",
        )
        return {name: self._guarded(name) for name in names}

    def _guarded(self, name: str) -> Callable[..., Awaitable[Any]]:
        impl = getattr(self, f"_{name}")
        expected = {
            "StartSingleJob": 4,
            "StartContinuous": 4,
            "PrepareRecipe": 1,
            "UnprepareRecipe": 1,
            "GetRecipeListFiltered": 2,
            "GetResultById": 2,
            "GetResultListFiltered": 4,
        }.get(name, 0)

        async def handler(_parent: ua.NodeId, *args: Any) -> Any:
            if len(args) != expected:
                return _bad(
                    "BadArgumentsMissing" if len(args) < expected else "BadTooManyArguments",
                    f"{name} takes {expected} argument(s), got {len(args)}",
                )
            core = self.core
            if core.station is None or core._stopping:
                return _bad("BadInvalidState", f"{name}: the station is not running")
            try:
                if name.startswith("Get"):  # queries: no lock, so a slow DB read never delays the handshake
                    out = await impl(*[_val(a) for a in args])
                else:
                    assert core._lock is not None
                    async with core._lock:
                        out = await impl(*[_val(a) for a in args])
                        await core.write(core.state_changes())
            except Refused as exc:
                return _bad(exc.status, f"{name} by {_who()}: {exc}")
            except (TypeError, ValueError) as exc:
                return _bad("BadInvalidArgument", f"{name} by {_who()}: {exc}")
            log.info("OPC UA %s by %s", name, _who())
            return out

        return handler

    @property
    def _state(self) -> StationState:
        assert self.core.station
        return self.core.station.state

    # ------------------------------------------------------------------ VisionStateMachine
    async def _StartSingleJob(self, meas_id: str, part_id: str, recipe_id: str, product_id: str) -> list:
        core = self.core
        assert core.vsm and core.station
        core.vsm.start_single_job(self._state, recipe_id or "")
        try:
            req = core.station.trigger(part_id or None, source="external")
        except RuntimeError as exc:
            raise Refused("BadInvalidState", str(exc)) from None
        # no await between the trigger and this bookkeeping: the result cannot be handled before it
        core.vsm.job_started(req.trigger_id)
        meta = JobMeta(core.job_id(req.trigger_id), meas_id or "", product_id or "")
        core.jobs[req.trigger_id] = meta
        return [ua.Variant(meta.job_id, S)]

    async def _StartContinuous(self, meas_id: str, part_id: str, recipe_id: str, product_id: str) -> list:
        core = self.core
        assert core.vsm
        if recipe_id and recipe_id != core.vsm.prepared:
            raise Refused("BadInvalidArgument", f"recipe {recipe_id!r} is not prepared")
        core.vsm.start_continuous(self._state)
        job_id = f"{core.session}-continuous-{len(core.jobs) + core._continuous_seq + 1}"
        core.continuous_job = JobMeta(job_id, meas_id or "", product_id or "", True, part_id or job_id)
        return [ua.Variant(job_id, S)]

    async def _Stop(self) -> list:
        assert self.core.vsm
        self.core.vsm.stop(self._state)
        self.core.continuous_job = None
        return []

    async def _Abort(self) -> list:
        assert self.core.vsm
        self.core.vsm.abort(self._state)
        self.core.continuous_job = None
        return []

    async def _Reset(self) -> list:
        core = self.core
        assert core.vsm and core.station and core.hs
        state = self._state
        if state == StationState.ERROR:
            if not core.station.reset(who=_who()):
                raise Refused("BadInvalidState", f"the cause of {core.station.error_code} is still present")
        elif not core.vsm.reset_halted(state) and core.hs.fault.code == 0:
            raise Refused("BadInvalidState", f"nothing to reset: the system is {core.vsm.label(state)}")
        await core.write_handshake(core.hs.clear_fault())  # Reset also acknowledges handshake faults
        return []

    async def _Halt(self) -> list:
        assert self.core.vsm
        self.core.vsm.halt(self._state)
        self.core.continuous_job = None
        return []

    async def _SelectModeAutomatic(self) -> list:
        assert self.core.vsm
        self.core.vsm.select_mode_automatic(self._state)
        return []

    # ------------------------------------------------------------------ RecipeManagement
    async def _PrepareRecipe(self, external_id: str) -> list:
        core = self.core
        assert core.vsm and core.station
        if external_id not in core.station.recipes:
            raise Refused("BadInvalidArgument", f"no recipe {external_id!r}; known: {core.station.recipes}")
        core.vsm.prepare(self._state, external_id)
        core.station.set_recipe(external_id, who=_who())
        await core.write([("Configuration.RecipeSelect", external_id)])
        return [ua.Variant(external_id, S), ua.Variant(True, ua.VariantType.Boolean)]

    async def _UnprepareRecipe(self, external_id: str) -> list:
        assert self.core.vsm
        self.core.vsm.unprepare(self._state, external_id)
        return []

    async def _GetRecipeListFiltered(self, pattern: str, max_results: int) -> list:
        core = self.core
        assert core.station and core.vsm
        names = [n for n in core.station.recipes if fnmatch.fnmatchcase(n, pattern or "*")]
        names = names[: int(max_results)] if max_results else names
        descriptions = [core.station.config.recipes[n].description for n in names]
        return [ua.Variant(names, S), ua.Variant(descriptions, S), ua.Variant(core.vsm.prepared or "", S)]

    # ------------------------------------------------------------------ ResultManagement
    async def _GetResultById(self, result_id: str, _timeout_ms: int) -> list:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self.core.queries.by_id, str(result_id))
        except ResultNotFound as exc:
            log.info("GetResultById %s: %s", result_id, exc)
            return [ua.Variant("", S), ua.Variant(-1, ua.VariantType.Int32)]  # < 0: application error
        return [ua.Variant(json.dumps(result), S), ua.Variant(0, ua.VariantType.Int32)]

    async def _GetResultListFiltered(
        self, part_id: str, verdict: str, since: datetime | None, max_results: int
    ) -> list:
        cap = self.core.opc.result_list_max
        limit = min(int(max_results), cap) if max_results else cap
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            None, lambda: self.core.queries.filtered(part_id or "", verdict or "", since, limit)
        )
        return [ua.Variant([r["result_id"] for r in rows], S), ua.Variant(json.dumps(rows), S)]
