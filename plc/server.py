"""The embedded OPC UA server: its own thread and asyncio loop, bridged to the station's threads.

The station reaches the server only through its result and event listeners, which hand the item to the loop
with ``call_soon_threadsafe`` and return at once (they run on the station's signal thread, which must not
block). The server reaches the station through its public API (``trigger``, ``set_recipe``, ``reset``), which
never blocks for long. All handshake state lives in the loop thread, and one asyncio lock makes each "compute
the changes, write them" step atomic, so ``ResultValid`` is always written after the result tags.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback

from inspect_app.config import StationConfig
from inspect_app.state import StationState
from inspect_app.types import CommittedInspection, Severity, StatusEvent
from plc.channel_guard import ChannelGuard
from plc.counters import mes_counters, model_of_active_recipe
from plc.events import JobMeta, fill_result_event
from plc.guarded_server import GuardedServer
from plc.handshake import Changes, FaultCode, FlatHandshake, station_fault_text
from plc.link import LinkStartError
from plc.loop_thread import LoopThread
from plc.methods import MethodHandlers
from plc.nodes import AddressSpace, build
from plc.pki import PkiStore
from plc.results_query import ResultQueries
from plc.security import (
    POLICY_TYPES,
    ConfigUserManager,
    RolePermissions,
    describe_security,
    pki_validator,
    security_mode,
)
from plc.vision_state import Auto, Top, VisionStateMachine

if TYPE_CHECKING:
    from inspect_app.station import Station

log = logging.getLogger(__name__)


class EmbeddedServer:
    name = "opcua"

    def __init__(self, cfg: StationConfig) -> None:
        self.cfg = cfg
        self.opc = cfg.opcua
        self.station: Station | None = None
        self.server: GuardedServer | None = None
        self.guard: ChannelGuard | None = None
        self.space: AddressSpace | None = None
        self.hs: FlatHandshake | None = None
        self.vsm: VisionStateMachine | None = None
        self.queries = ResultQueries(cfg.state_dir / cfg.store.db)
        self.session = time.strftime("%y%m%d%H%M%S")
        self.jobs: dict[int, JobMeta] = {}
        self.continuous_job: JobMeta | None = None  # the StartContinuous run, while it lasts
        self._continuous_seq = 0
        self.last_result: CommittedInspection | None = None
        self.last_signal_ms: float | None = None  # trigger -> ResultValid of the last handshake part
        # per handshake part, monotonic: (part id, trigger seen, row committed, ResultValid written); the
        # latency benchmark reads it to tell the station's time from the link's
        self.signal_trace: deque[tuple[str, float, float, float]] = deque(maxlen=100_000)
        self._lt: LoopThread | None = None
        self._lock: asyncio.Lock | None = None  # "compute the handshake changes, write them" is one step
        self._event_lock: asyncio.Lock | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._cache: dict[str, object] = {}
        self._model_seen: tuple[str, str, str, str] | None = None  # the active model MES was last told of
        self._running = False  # the station's listeners forward to the loop
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle (station thread)
    def start(self, station: Station) -> None:
        self.station = station
        self.vsm = VisionStateMachine(station.recipe, free_run=self.cfg.trigger.mode == "free_run")
        self.hs = FlatHandshake(
            lambda part: station.trigger(part, source="external"),
            ack_timeout_s=self.opc.handshake.ack_timeout_s,
            on_missed=lambda part, code, why: station.record_missed(part, code, why),
        )
        self._lt = LoopThread("opcua-server")
        self._lt.start()
        try:
            self._lt.run(self._astart(), timeout=60)
        except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
            if self.server is not None:
                self._lt.run(self._astop(), timeout=10)
            self._lt.stop()
            raise LinkStartError(f"OPC UA server on {self.opc.endpoint} cannot start: {exc}") from exc
        self._running = True
        station.add_watch(self._lt.watch())  # the supervisor sees this loop die or stop turning
        station.add_result_listener(self._on_result)
        station.add_event_listener(self._on_event)
        if "None" in self.opc.security:
            log.warning("=" * 78)
            log.warning(
                "OPC UA server %s is UNSECURED: security policy None, anonymous %s.",
                self.opc.endpoint,
                "allowed" if self.opc.allow_anonymous else "off",
            )
            log.warning("Loopback only, for the demo and tests. Production: see docs/plc-handshake.md.")
            log.warning("=" * 78)
        else:
            log.info("OPC UA server on %s: %s", self.opc.endpoint, describe_security(self.opc))

    def stop(self) -> None:
        if not self._running or self._lt is None:
            return
        self._running = False  # listeners become no-ops: the station cannot forget them
        self._stopping = True
        try:
            self._lt.run(self._astop(), timeout=10)
        except TimeoutError as exc:
            log.warning("OPC UA server did not stop cleanly: %s", exc)
        self._lt.stop()

    def status(self) -> dict[str, Any]:
        sessions = len(self.server.bserver.clients) if self.server and self.server.bserver else 0
        state = self.vsm.label(self.station.state) if self.vsm and self.station else "-"
        fault = self.hs.fault.code if self.hs else FaultCode.NONE
        return {
            "connected": self._running,
            "security": describe_security(self.opc),
            "secured": self.opc.secured,
            "security_mode": security_mode(self.opc),
            "faults": [fault.name] if fault != FaultCode.NONE else [],
            "detail": f"OPC UA server {self.opc.endpoint}: {sessions} client(s), {state}",
            "mode": "server",
            "endpoint": self.opc.endpoint,
            "clients": sessions,
            "vision_state": state,
            "missed_triggers": self.hs.missed if self.hs else 0,
            "last_signal_ms": self.last_signal_ms,
        }

    # ------------------------------------------------------------------ station listeners (signal thread)
    def _on_result(self, committed: CommittedInspection) -> None:
        if self._running and self._lt and self._queue is not None:
            self._lt.call_soon(self._queue.put_nowait, ("result", committed))

    def _on_event(self, event: StatusEvent) -> None:
        if self._running and self._lt and self._queue is not None:
            self._lt.call_soon(self._queue.put_nowait, ("event", event))

    # ------------------------------------------------------------------ loop side
    async def _astart(self) -> None:
        opc = self.opc
        self._lock = asyncio.Lock()
        self._event_lock = asyncio.Lock()
        self._queue = asyncio.Queue()
        secured_policies = [p for p in opc.security if p != "None"]
        pki = None
        if secured_policies:
            assert opc.trust_dir  # the config validated it
            pki = PkiStore(opc.trust_dir)
        self.guard = ChannelGuard(pki, secured="None" not in opc.security)
        server = GuardedServer(ConfigUserManager(opc), self.guard)
        await server.init()
        server.set_endpoint(opc.endpoint)
        server.set_server_name(f"inspect-app {self.cfg.station.name}")
        await server.set_application_uri(opc.application_uri)
        server.product_uri = "urn:inspect-app"
        server.allow_remote_admin(False)
        tokens: list[type] = [ua.UserNameIdentityToken]
        if opc.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        if pki is not None:
            assert opc.certificate and opc.private_key  # the config validated it
            await server.load_certificate(str(opc.certificate))
            await server.load_private_key(str(opc.private_key))
            server.set_certificate_validator(pki_validator(pki))
        self.space = await build(server, MethodHandlers(self).table())
        server.write_checks[self.space.variables["Configuration.RecipeSelect"][0]] = self._check_recipe
        server.set_security_policy(
            [POLICY_TYPES[p] for p in opc.security],
            permission_ruleset=RolePermissions(self.space.writable, self.space.methods),
        )
        server.subscribe_server_callback(CallbackType.PostWrite, self._post_write)
        self.server = server
        await self._initial_values()
        await server.start()
        self._tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._ticker())]

    async def _astop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.stop()

    def accepting(self) -> bool:
        assert self.vsm and self.station
        return not self._stopping and self.vsm.accepts_plc_triggers(self.station.state)

    async def write(self, changes: Changes) -> None:
        """Write ``(key, value)`` pairs in order; keys are "Group.Name" (see nodes.AddressSpace.variables).
        Unchanged values are not rewritten, so subscribers see real changes only."""
        assert self.server and self.space
        now = datetime.now(UTC)
        for key, value in changes:
            if self._cache.get(key, _MISSING) == value:
                continue
            nodeid, vtype = self.space.variables[key]
            variant = ua.Variant(
                ua.LocalizedText(str(value)) if vtype == ua.VariantType.LocalizedText else value, vtype
            )
            await self.server.write_attribute_value(
                nodeid, ua.DataValue(variant, SourceTimestamp=now, ServerTimestamp=now)
            )
            self._cache[key] = value

    async def write_handshake(self, changes: Changes) -> None:
        await self.write([(f"Handshake.{k}", v) for k, v in changes])
        if ("Fault", True) in changes and self.hs:
            code = self.hs.fault.code
            log.warning("PLC handshake fault %s: %s", code.name, self.hs.fault.text)
            await self.emit_error(code.name, self.hs.fault.text, int(code), severity=600)

    async def emit_error(
        self, error_code: str, message: str, fault_code: int = 0, severity: int = 800
    ) -> None:
        assert self.space and self.space.error_event and self._event_lock
        async with self._event_lock:  # one event object is filled, then copied per subscriber: one at a time
            ev = self.space.error_event.event
            ev.ErrorCode, ev.FaultCode = error_code, fault_code
            ev.Severity = severity
            await self.space.error_event.trigger(message=message)

    def state_changes(self) -> Changes:
        assert self.vsm and self.station and self.hs
        st = self.station.state
        top, auto = self.vsm.current(st)
        return [
            ("State.CurrentState", str(top)),
            ("Auto.CurrentState", str(auto) if auto else ""),
            ("State.StationState", str(st)),
            ("State.ErrorCode", self.station.error_code or ""),
            ("Configuration.PreparedRecipe", self.vsm.prepared or ""),
            ("Handshake.Heartbeat", self.station.heartbeat % 2**32),
        ] + [
            (f"Counters.{k}", v)
            for k, v in mes_counters(self.station, self.last_result).items()
        ]

    async def _model_step(self) -> None:
        """The ModelChangedEvent when the active recipe's model is not the one seen last (the Counters.Model*
        variables follow with the state changes); the first look only remembers it."""
        assert self.station and self.space and self.space.model_event and self._event_lock
        name, version, sha, precision = model_of_active_recipe(self.station)
        seen = self._model_seen
        self._model_seen = (name, version, sha, precision)
        if seen is None or seen == self._model_seen:
            return
        new_id, old_id = f"{name}/{version}", f"{seen[0]}/{seen[1]}"
        async with self._event_lock:
            ev = self.space.model_event.event
            ev.ModelId, ev.ModelName, ev.ModelVersion, ev.ModelSha256 = new_id, name, version, sha
            ev.ModelPrecision, ev.PreviousModelId, ev.PreviousModelSha256 = precision, old_id, seen[2]
            ev.Recipe = self.station.recipe
            ev.Severity = 500
            await self.space.model_event.trigger(message=f"model {old_id} -> {new_id} ({precision}), "
                                                 f"recipe {self.station.recipe}")  # fmt: skip

    async def _initial_values(self) -> None:
        import json

        assert self.station and self.hs
        await self.write(self.state_changes())
        await self.write(
            [
                ("Configuration.RecipeSelect", self.station.recipe),
                ("Configuration.Recipes", json.dumps(self.station.recipes)),
                ("Configuration.Security", describe_security(self.opc)),
            ]
        )
        await self.write_handshake(self.hs.tick(self.accepting(), None))
        await self._model_step()

    async def _ticker(self) -> None:
        """Heartbeat, Ready, ack timeout and the station's Error, refreshed every heartbeat_period_s."""
        assert self._lock and self.hs and self.station and self.server
        while True:
            await asyncio.sleep(self.opc.handshake.heartbeat_period_s)
            try:
                async with self._lock:
                    err = station_fault_text(self.station)
                    async with self.server.one_notification():
                        await self.write_handshake(self.hs.tick(self.accepting(), err))
                        await self.write(self.state_changes())
                    await self._continuous_step()
                await self._model_step()
            except Exception:  # the ticker must survive one bad write; the next tick retries
                log.exception("OPC UA ticker failed")

    async def _worker(self) -> None:
        assert self._queue
        while True:
            kind, item = await self._queue.get()
            try:
                if kind == "result":
                    await self._handle_result(item)
                else:
                    await self._handle_event(item)
            except Exception:  # one bad result must not stop the link
                log.exception("OPC UA: handling %s failed", kind)

    async def _handle_result(self, committed: CommittedInspection) -> None:
        assert self._lock and self.hs and self.vsm and self.server
        trigger_id = committed.inspection.trigger_id
        async with self._lock:
            pending = self.hs.pending
            changes = self.hs.on_result(committed, self.accepting())
            async with self.server.one_notification():  # the result tags and ResultValid in one message
                await self.write_handshake(changes)
            if changes and pending is not None:
                now = time.monotonic()
                self.last_signal_ms = (now - pending.requested_mono) * 1000
                trace = (pending.part_id, pending.requested_mono, committed.committed_mono, now)
                self.signal_trace.append(trace)
            self.vsm.job_done(trigger_id)
            self.last_result = committed
            await self.write(self.state_changes())
        await self._emit_result_event(committed, self.jobs.pop(trigger_id, None))

    async def _handle_event(self, event: StatusEvent) -> None:
        assert self._lock and self.vsm and self.station
        if event.kind == "recipe" and self.vsm.prepared is not None:
            self.vsm.prepared = self.station.recipe  # switched by the UI or the CLI: that is the prepared one
            await self.write([("Configuration.RecipeSelect", self.station.recipe)])
        async with self._lock:
            await self.write(self.state_changes())
        if event.kind in ("model", "recipe"):
            await self._model_step()
        if event.severity == Severity.ERROR:
            code = str(event.payload.get("error_code") or event.payload.get("code") or event.kind)
            await self.emit_error(code, event.message)

    async def _emit_result_event(self, committed: CommittedInspection, meta: JobMeta | None) -> None:
        assert self.space and self.space.result_event
        job_id = meta.job_id if meta else self.job_id(committed.inspection.trigger_id)
        fill_result_event(self.space.result_event.event, committed, meta, job_id)
        insp = committed.inspection
        await self.space.result_event.trigger(message=f"part {insp.part_id}: {insp.verdict.value}")

    def job_id(self, trigger_id: int) -> str:
        return f"{self.session}-{trigger_id}"

    # ------------------------------------------------------------------ PLC writes
    async def _post_write(self, event: ServerItemCallback, _dispatcher: object) -> None:
        if not event.is_external or self.space is None or self._stopping:
            return
        assert self._lock and self.hs and self.station
        written: dict[str, object] = {}
        for item, status in zip(event.request_params.NodesToWrite, event.response_params or [], strict=False):
            name = self.space.inputs.get(item.NodeId)
            if name and status.is_good() and item.Value.Value is not None:
                written[name] = item.Value.Value.Value
        if not written:
            return
        who = getattr(event.user, "name", None) or "anonymous"
        assert self.server
        async with self._lock, self.server.one_notification():
            if "PartId" in written:
                self.hs.set_part_id(str(written["PartId"] or ""))
            if "RecipeSelect" in written:
                await self._select_recipe(str(written["RecipeSelect"] or ""), who)
            changes: Changes = []
            # Ack before Trigger: a PLC may acknowledge one part and trigger the next in one write
            if "FaultReset" in written:
                changes += self.hs.on_fault_reset(bool(written["FaultReset"]))
                if written["FaultReset"] and self.station.state == StationState.ERROR:
                    self.station.reset(who=f"opcua:{who}")
            if "Ack" in written:
                changes += self.hs.on_ack(bool(written["Ack"]), self.accepting())
            if "Trigger" in written:
                why = f"vision system is {self.vsm.label(self.station.state)}" if self.vsm else "not ready"
                changes += self.hs.on_trigger(bool(written["Trigger"]), self.accepting(), why)
            await self.write_handshake(changes)

    def _check_recipe(self, value: ua.DataValue) -> str | None:
        """RecipeSelect: an unknown recipe is refused before it is written (BadOutOfRange), so the node
        never shows a recipe the station does not run."""
        assert self.station
        name = value.Value.Value if value.Value is not None else None
        if isinstance(name, str) and name in self.station.recipes:
            return None
        log.warning("OPC UA: RecipeSelect %r refused: no such recipe (known: %s)", name, self.station.recipes)
        task = asyncio.get_running_loop().create_task(
            self.emit_error("UNKNOWN_RECIPE", f"RecipeSelect {name!r}: no such recipe", 0, 500)
        )
        self._background.add(task)  # a task nobody references may be collected before it ran
        task.add_done_callback(self._background.discard)
        return "BadOutOfRange"

    async def _select_recipe(self, name: str, who: str) -> None:
        assert self.station and self.vsm
        if name == self.station.recipe:
            return
        self.station.set_recipe(name, who=f"opcua:{who}")
        self.vsm.prepared = name
        self._cache["Configuration.RecipeSelect"] = name

    # ------------------------------------------------------------------ StartContinuous
    async def _continuous_step(self) -> None:
        """One tick of a StartContinuous run: trigger parts at trigger.rate_hz while at most two are in
        flight, so a slow model slows the run instead of overflowing the trigger queue."""
        assert self.vsm and self.station
        run = self.continuous_job
        if run is None or not self.vsm.continuous:
            return
        if self.vsm.current(self.station.state) != (Top.OPERATIONAL, Auto.CONTINUOUS):
            return
        per_tick = max(1, round(self.cfg.trigger.rate_hz * self.opc.handshake.heartbeat_period_s))
        for _ in range(per_tick):
            if sum(1 for j in self.jobs.values() if j.continuous) >= 2:
                return
            self._continuous_seq += 1
            req = self.station.trigger(f"{run.part_prefix}-{self._continuous_seq:06d}", source="external")
            self.jobs[req.trigger_id] = run


_MISSING = object()
__all__ = ["EmbeddedServer", "LinkStartError"]
