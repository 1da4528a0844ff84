// Connect with the given policy, certificate and user; read ServerStatus/State; optionally write tags
// (opts.writes: [[tag in VisionSystem.Handshake, value, "Boolean"|"String"], ...]). Reports ok or the
// refusal's status name.
import { DataType } from "node-opcua-client";
import { connect, close, nsIndex, run, PROJECT_NS } from "./lib.mjs";

await run(async (opts) => {
  const conn = await connect(opts);
  try {
    const { session } = conn;
    const state = await session.read({ nodeId: "ns=0;i=2259", attributeId: 13 });
    let writes = [];
    if (opts.writes && opts.writes.length) {
      const proj = await nsIndex(session, PROJECT_NS);
      const statuses = await session.write(opts.writes.map(([n, v, t]) => ({
        nodeId: `ns=${proj};s=VisionSystem.Handshake.${n}`, attributeId: 13,
        value: { value: { dataType: DataType[t], value: v } },
      })));
      writes = statuses.map((s) => s.name);
    }
    return { state: state.value.value, writes, policy: conn.client.securityPolicy, mode: String(conn.client.securityMode) };
  } finally {
    await close(conn);
  }
});
