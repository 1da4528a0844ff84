// Subscribe to ResultReadyEventType on VisionSystem (OPC 40100 fields in the MachineVision namespace, the
// project's typed extensions in its own), trigger opts.parts single jobs, collect the events.
import {
  AttributeIds, ClientMonitoredItem, constructEventFilter, DataType, makeBrowsePath, TimestampsToReturn,
} from "node-opcua-client";
import { connect, close, nsIndex, run, sleep, MV_NS, PROJECT_NS } from "./lib.mjs";

await run(async (opts) => {
  const conn = await connect(opts);
  try {
    const { session } = conn;
    const mv = await nsIndex(session, MV_NS);
    const proj = await nsIndex(session, PROJECT_NS);
    const spec = ["ResultId", "JobId", "PartId", "MeasId", "ResultState", "InternalRecipeId"].map((f) => `${mv}:${f}`);
    const ext = ["Verdict", "DefectCount", "DefectClasses", "DetectionCount"].map((f) => `${proj}:${f}`);
    const fields = ["EventType", "Message", "Severity", ...spec, ...ext];
    const found = await session.translateBrowsePath(makeBrowsePath("i=2041", `/${mv}:ResultReadyEventType`));
    if (found.statusCode.name !== "Good") throw new Error(`ResultReadyEventType: ${found.statusCode.name}`);
    const eventType = found.targets[0].targetId.toString();
    const sub = await session.createSubscription2({
      requestedPublishingInterval: 20, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 20,
      maxNotificationsPerPublish: 100, publishingEnabled: true, priority: 1,
    });
    const events = [];
    const item = ClientMonitoredItem.create(
      sub,
      { nodeId: `ns=${mv};s=VisionSystem`, attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, queueSize: 100, discardOldest: false,
        filter: constructEventFilter(fields, [eventType]) },
      TimestampsToReturn.Both
    );
    item.on("changed", (values) => {
      const e = {};
      fields.forEach((f, k) => {
        const v = values[k].value;
        e[f.includes(":") ? f.split(":")[1] : f] = v && v.text !== undefined ? v.text : v;
      });
      e.EventType = String(e.EventType);
      events.push(e);
    });
    await new Promise((resolve) => item.once("initialized", resolve));
    const jobs = [];
    const auto = `ns=${mv};s=VisionSystem.VisionStateMachine.AutomaticModeStateMachine`;
    for (let i = 0; i < (opts.parts || 2); i++) {
      const r = await session.call({
        objectId: auto, methodId: `${auto}.StartSingleJob`,
        inputArguments: [`M-${i}`, `EV-${i}`, "", "P-1"].map((v) => ({ dataType: DataType.String, value: v })),
      });
      jobs.push({ status: r.statusCode.name, jobId: r.outputArguments.length ? r.outputArguments[0].value : null });
    }
    const end = Date.now() + 15000;
    while (events.length < jobs.length && Date.now() < end) await sleep(20);
    await sub.terminate();
    return { jobs, events, eventType };
  } finally {
    await close(conn);
  }
});
