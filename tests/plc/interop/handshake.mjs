// The flat handshake as a PLC program drives it, polling: PartId + rising Trigger, wait ResultValid, read the
// result tags, Trigger low + Ack high, wait ResultValid low, Ack low. opts.parts cycles.
import { DataType } from "node-opcua-client";
import { connect, close, nsIndex, run, waitValue, PROJECT_NS } from "./lib.mjs";

const RESULT_TAGS = ["ResultPartId", "Pass", "Fail", "ResultCode", "ResultId", "DefectCount", "DetectionCount"];

await run(async (opts) => {
  const conn = await connect(opts);
  try {
    const { session } = conn;
    const proj = await nsIndex(session, PROJECT_NS);
    const hs = (n) => `ns=${proj};s=VisionSystem.Handshake.${n}`;
    const write = async (pairs) => {
      const statuses = await session.write(
        pairs.map(([n, v, t]) => ({ nodeId: hs(n), attributeId: 13, value: { value: { dataType: t, value: v } } }))
      );
      return statuses.map((s) => s.name);
    };
    await waitValue(session, hs("Ready"), (v) => v === true);
    const cycles = [];
    for (let i = 0; i < (opts.parts || 1); i++) {
      const part = `${opts.prefix || "NODE"}-${i}`;
      const written = await write([["PartId", part, DataType.String], ["Trigger", true, DataType.Boolean]]);
      await waitValue(session, hs("ResultValid"), (v) => v === true);
      const dvs = await session.read(RESULT_TAGS.map((n) => ({ nodeId: hs(n), attributeId: 13 })));
      const tags = Object.fromEntries(RESULT_TAGS.map((n, k) => [n, dvs[k].value.value]));
      await write([["Trigger", false, DataType.Boolean], ["Ack", true, DataType.Boolean]]);
      await waitValue(session, hs("ResultValid"), (v) => v === false);
      await write([["Ack", false, DataType.Boolean]]);
      cycles.push({ part, written, ...tags });
    }
    return { cycles };
  } finally {
    await close(conn);
  }
});
