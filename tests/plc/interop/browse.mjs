// Browse Objects/VisionSystem and its Handshake folder; read the handshake tags and the namespaces.
import { connect, close, nsIndex, run, MV_NS, PROJECT_NS } from "./lib.mjs";

async function children(session, nodeId) {
  const r = await session.browse({ nodeId, referenceTypeId: "HierarchicalReferences", includeSubtypes: true,
    browseDirection: 0, resultMask: 63 });
  if (r.statusCode.name !== "Good") throw new Error(`browse ${nodeId}: ${r.statusCode.name}`);
  return r.references.map((ref) => ({ name: ref.browseName.name, nodeId: ref.nodeId.toString(),
    nodeClass: ref.nodeClass.toString() }));
}

await run(async (opts) => {
  const conn = await connect(opts);
  try {
    const { session } = conn;
    const mv = await nsIndex(session, MV_NS);
    const proj = await nsIndex(session, PROJECT_NS);
    const objects = await children(session, "ns=0;i=85");
    const vs = objects.find((c) => c.name === "VisionSystem");
    const vision = await children(session, vs.nodeId);
    const hsNode = vision.find((c) => c.name === "Handshake");
    const handshake = await children(session, hsNode.nodeId);
    const values = {};
    for (const tag of handshake) {
      const dv = await session.read({ nodeId: tag.nodeId, attributeId: 13 });
      values[tag.name] = { type: dv.value.dataType, value: dv.value.value };
    }
    const vsm = await children(session, `ns=${mv};s=VisionSystem.VisionStateMachine`);
    return { mv, proj, visionSystemId: vs.nodeId, vision: vision.map((c) => c.name), handshake: values,
      stateMachine: vsm.map((c) => c.name) };
  } finally {
    await close(conn);
  }
});
