"""The embedded server's address space: an OPC 40100-style ``VisionSystem`` plus the project's extensions.

Names and structure follow OPC 40100-1 (Machine Vision) in its namespace; everything the spec does not have
(the flat handshake, MES counters, configuration) lives in the project namespace. Node ids are strings that
spell the browse path (``ns=<mv>;s=VisionSystem.VisionStateMachine.CurrentState``) so PLC programmers can type
them; docs/plc-handshake.md lists them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from asyncua import Node, Server, ua
from asyncua.common.event_objects import BaseEvent
from asyncua.common.events import Event
from asyncua.common.structures104 import new_struct, new_struct_field
from asyncua.server.event_generator import EventGenerator

from plc.counters import COUNTER_TYPES

MV_NS = "http://opcfoundation.org/UA/MachineVision"
PROJECT_NS = "urn:inspect-app:opcua"
V = ua.VariantType

HANDSHAKE_INPUTS: dict[str, V] = {
    "Trigger": V.Boolean,
    "PartId": V.String,
    "Ack": V.Boolean,
    "FaultReset": V.Boolean,
}
HANDSHAKE_OUTPUTS: dict[str, V] = {
    "Ready": V.Boolean,
    "Busy": V.Boolean,
    "ResultValid": V.Boolean,
    "Pass": V.Boolean,
    "Fail": V.Boolean,
    "ResultCode": V.Int32,
    "ResultPartId": V.String,
    "ResultId": V.String,
    "DefectCount": V.Int32,
    "DetectionCount": V.Int32,
    "Fault": V.Boolean,
    "FaultCode": V.Int32,
    "FaultText": V.String,
    "Heartbeat": V.UInt32,
    "MissedTriggers": V.UInt32,
    "LastMissedPartId": V.String,
}
STATE_VARS: dict[str, V] = {"StationState": V.String, "ErrorCode": V.String}
CONFIG_VARS: dict[str, V] = {
    "RecipeSelect": V.String,
    "PreparedRecipe": V.String,
    "Recipes": V.String,
    "Security": V.String,
}

# ResultReadyEventType: the spec's properties (MachineVision namespace) ...
RESULT_EVENT_FIELDS: dict[str, V] = {
    "IsPartial": V.Boolean,
    "IsSimulated": V.Boolean,
    "ResultState": V.Int32,
    "MeasId": V.String,
    "PartId": V.String,
    "ExternalRecipeId": V.String,
    "InternalRecipeId": V.String,
    "ProductId": V.String,
    "ExternalConfigurationId": V.String,
    "InternalConfigurationId": V.String,
    "JobId": V.String,
    "ResultId": V.String,
    "CreationTime": V.DateTime,
    "ProcessingTimes": V.ExtensionObject,
    "ResultContent": V.Variant,
}
# ... and the project's extensions (the same facts as ResultContent, typed, for simple clients)
RESULT_EVENT_EXTENSIONS: dict[str, V] = {
    "Verdict": V.String,
    "DefectCount": V.Int32,
    "DefectClasses": V.String,
    "DetectionCount": V.Int32,
    "ErrorCode": V.String,
}
ERROR_EVENT_FIELDS: dict[str, V] = {"ErrorCode": V.String, "FaultCode": V.Int32}
# the active recipe's model changed (a promotion, a rollback, a model switch or a recipe switch): MES sees it
MODEL_EVENT_FIELDS: dict[str, V] = {
    "ModelId": V.String,
    "ModelName": V.String,
    "ModelVersion": V.String,
    "ModelSha256": V.String,
    "ModelPrecision": V.String,
    "PreviousModelId": V.String,
    "PreviousModelSha256": V.String,
    "Recipe": V.String,
}

MethodHandler = Callable[..., Awaitable[Any]]


@dataclass
class AddressSpace:
    mv: int
    proj: int
    vision_system: Node
    variables: dict[str, tuple[ua.NodeId, V]] = field(default_factory=dict)  # "Handshake.Ready" -> ...
    inputs: dict[ua.NodeId, str] = field(default_factory=dict)  # handshake/config input node -> its name
    writable: dict[ua.NodeId, str] = field(default_factory=dict)  # node -> least role that may write it
    methods: dict[ua.NodeId, str] = field(default_factory=dict)  # method node -> least role that may call
    method_nodes: dict[str, Node] = field(default_factory=dict)
    result_event: EventGenerator | None = None
    error_event: EventGenerator | None = None
    result_event_type: Node | None = None
    error_event_type: Node | None = None
    model_event: EventGenerator | None = None
    model_event_type: Node | None = None


def _arg(name: str, vtype: V, array: bool = False, doc: str = "") -> ua.Argument:
    return ua.Argument(
        Name=name,
        DataType=ua.NodeId(vtype.value),
        ValueRank=1 if array else -1,
        ArrayDimensions=[0] if array else [],
        Description=ua.LocalizedText(doc or name),
    )


# method name -> (parent object, least role, inputs, outputs); the handler of each is passed to build()
METHODS: dict[str, tuple[str, str, list[ua.Argument], list[ua.Argument]]] = {
    "StartSingleJob": (
        "AutomaticModeStateMachine",
        "operator",
        [
            _arg("MeasId", V.String),
            _arg("PartId", V.String),
            _arg("RecipeId", V.String),
            _arg("ProductId", V.String),
        ],
        [_arg("JobId", V.String)],
    ),
    "StartContinuous": (
        "AutomaticModeStateMachine",
        "operator",
        [
            _arg("MeasId", V.String),
            _arg("PartId", V.String),
            _arg("RecipeId", V.String),
            _arg("ProductId", V.String),
        ],
        [_arg("JobId", V.String)],
    ),
    "Stop": ("AutomaticModeStateMachine", "operator", [], []),
    "Abort": ("AutomaticModeStateMachine", "operator", [], []),
    "Reset": ("VisionStateMachine", "operator", [], []),
    "Halt": ("VisionStateMachine", "engineer", [], []),
    "SelectModeAutomatic": ("VisionStateMachine", "engineer", [], []),
    "PrepareRecipe": (
        "RecipeManagement",
        "engineer",
        [_arg("ExternalId", V.String)],
        [_arg("InternalId", V.String), _arg("IsCompleted", V.Boolean)],
    ),
    "UnprepareRecipe": ("RecipeManagement", "engineer", [_arg("ExternalId", V.String)], []),
    "GetRecipeListFiltered": (
        "RecipeManagement",
        "observer",
        [_arg("Filter", V.String, doc="glob on the recipe name, '' = all"), _arg("MaxResults", V.UInt32)],
        [
            _arg("RecipeIds", V.String, array=True),
            _arg("Descriptions", V.String, array=True),
            _arg("PreparedRecipe", V.String),
        ],
    ),
    "GetResultById": (
        "ResultManagement",
        "observer",
        [_arg("ResultId", V.String), _arg("Timeout", V.Int32)],
        [_arg("Result", V.String, doc="JSON"), _arg("Error", V.Int32)],
    ),
    "GetResultListFiltered": (
        "ResultManagement",
        "observer",
        [
            _arg("PartId", V.String),
            _arg("Verdict", V.String),
            _arg("Since", V.DateTime),
            _arg("MaxResults", V.UInt32),
        ],
        [_arg("ResultIds", V.String, array=True), _arg("Results", V.String, doc="JSON")],
    ),
}


async def _object(parent: Node, ns: int, path: str, name: str) -> Node:
    return await parent.add_object(ua.NodeId(f"{path}.{name}", ns), ua.QualifiedName(name, ns))


async def _variables(
    space: AddressSpace, parent: Node, ns: int, path: str, group: str, types: dict[str, V]
) -> None:
    for name, vtype in types.items():
        nodeid = ua.NodeId(f"{path}.{name}", ns)
        default = ua.get_default_value(vtype)
        if vtype == V.UInt32:
            default = 0
        await parent.add_variable(nodeid, ua.QualifiedName(name, ns), ua.Variant(default, vtype))
        space.variables[f"{group}.{name}"] = (nodeid, vtype)


async def _event_type(
    server: Server, ns: int, name: str, fields: dict[str, V], extra_ns: int, extra: dict[str, V], struct: Any
) -> Node:
    props = [(n, t) if n != "ProcessingTimes" else (n, t, struct.nodeid) for n, t in fields.items()]
    etype = await server.create_custom_event_type(ns, name, ua.ObjectIds.BaseEventType, props)
    for n, t in extra.items():
        await etype.add_property(extra_ns, n, ua.get_default_value(t), varianttype=t)
    return etype


def _typed(gen: EventGenerator, types: dict[str, V]) -> None:
    # asyncua takes a property's variant type from its default value; None defaults (Variant, arrays) would be
    # sent as Null, so the types are set explicitly
    event: Event = gen.event
    for name, vtype in types.items():
        event.data_types[name] = vtype


async def build(server: Server, handlers: dict[str, MethodHandler]) -> AddressSpace:
    mv = await server.register_namespace(MV_NS)
    proj = await server.register_namespace(PROJECT_NS)
    root = "VisionSystem"
    vs = await server.nodes.objects.add_object(ua.NodeId(root, mv), ua.QualifiedName(root, mv))
    await vs.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
    space = AddressSpace(mv, proj, vs)

    vsm_path = f"{root}.VisionStateMachine"
    vsm = await _object(vs, mv, root, "VisionStateMachine")
    auto_path = f"{vsm_path}.AutomaticModeStateMachine"
    auto = await _object(vsm, mv, vsm_path, "AutomaticModeStateMachine")
    for parent, path, key in ((vsm, vsm_path, "State"), (auto, auto_path, "Auto")):
        nodeid = ua.NodeId(f"{path}.CurrentState", mv)
        await parent.add_variable(nodeid, ua.QualifiedName("CurrentState", mv), ua.LocalizedText(""))
        space.variables[f"{key}.CurrentState"] = (nodeid, V.LocalizedText)
    await _variables(space, vsm, proj, vsm_path, "State", STATE_VARS)

    parents = {"VisionStateMachine": vsm, "AutomaticModeStateMachine": auto}
    for name in ("RecipeManagement", "ResultManagement"):
        parents[name] = await _object(vs, mv, root, name)

    hs_path = f"{root}.Handshake"
    hs = await _object(vs, proj, root, "Handshake")
    await _variables(space, hs, proj, hs_path, "Handshake", HANDSHAKE_INPUTS)
    await _variables(space, hs, proj, hs_path, "Handshake", HANDSHAKE_OUTPUTS)
    for name in HANDSHAKE_INPUTS:
        nodeid = space.variables[f"Handshake.{name}"][0]
        await server.get_node(nodeid).set_writable()
        space.inputs[nodeid] = name
        space.writable[nodeid] = "operator"

    counters = await _object(vs, proj, root, "Counters")
    await _variables(space, counters, proj, f"{root}.Counters", "Counters", COUNTER_TYPES)
    config = await _object(vs, proj, root, "Configuration")
    await _variables(space, config, proj, f"{root}.Configuration", "Configuration", CONFIG_VARS)
    select = space.variables["Configuration.RecipeSelect"][0]
    await server.get_node(select).set_writable()
    space.inputs[select] = "RecipeSelect"
    space.writable[select] = "engineer"

    for name, (parent_name, role, inputs, outputs) in METHODS.items():
        parent = parents[parent_name]
        path = ".".join(
            p
            for p in (
                root,
                "VisionStateMachine" if parent_name == "AutomaticModeStateMachine" else "",
                parent_name,
                name,
            )
            if p
        )
        node = await parent.add_method(
            ua.NodeId(path, mv), ua.QualifiedName(name, mv), handlers[name], inputs, outputs
        )
        space.methods[node.nodeid] = role
        space.method_nodes[name] = node

    times_struct, _ = await new_struct(
        server,
        mv,
        "ProcessingTimesDataType",
        [
            new_struct_field("StartTime", V.DateTime),
            new_struct_field("EndTime", V.DateTime),
            new_struct_field("AcquisitionDuration", V.Double),
            new_struct_field("ProcessingDuration", V.Double),
        ],
    )
    await server.load_data_type_definitions()
    space.result_event_type = await _event_type(
        server, mv, "ResultReadyEventType", RESULT_EVENT_FIELDS, proj, RESULT_EVENT_EXTENSIONS, times_struct
    )
    space.error_event_type = await _event_type(
        server, mv, "ErrorEventType", ERROR_EVENT_FIELDS, proj, {}, None
    )
    space.result_event = await server.get_event_generator(space.result_event_type, vs)
    _typed(space.result_event, {**RESULT_EVENT_FIELDS, **RESULT_EVENT_EXTENSIONS})
    space.result_event.event.data_types["DefectClasses"] = V.String  # an array of strings
    space.error_event = await server.get_event_generator(space.error_event_type, vs)
    _typed(space.error_event, ERROR_EVENT_FIELDS)
    space.model_event_type = await _event_type(
        server, proj, "ModelChangedEventType", MODEL_EVENT_FIELDS, proj, {}, None
    )
    space.model_event = await server.get_event_generator(space.model_event_type, vs)
    _typed(space.model_event, MODEL_EVENT_FIELDS)
    return space


def base_event_fields(event: BaseEvent | Event, message: str, severity: int) -> None:
    event.Message = ua.LocalizedText(message)
    event.Severity = severity
