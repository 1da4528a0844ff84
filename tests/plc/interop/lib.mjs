// What every interop script shares: options from one JSON argument, a node-opcua client and session made
// from them, and one JSON result on stdout (the last line, prefixed RESULT: node-opcua prints notices).
import fs from "node:fs";
import path from "node:path";
import { OPCUAClient, MessageSecurityMode, SecurityPolicy, UserTokenType } from "node-opcua-client";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";

export const PROJECT_NS = "urn:inspect-app:opcua";
export const MV_NS = "http://opcfoundation.org/UA/MachineVision";

export function options() {
  return JSON.parse(process.argv[2] || "{}");
}

export function result(value) {
  process.stdout.write("RESULT " + JSON.stringify(value) + "\n");
}

// The status a refused call carries, by name, whatever node-opcua wrapped it in.
export function statusName(err) {
  if (!err) return "Good";
  const named = err.statusCode && err.statusCode.name;
  if (named && named !== "Bad") return named;
  const inText = String(err.message || "").match(/\b(Bad[A-Z][A-Za-z]+)/);
  if (inText) return inText[1];
  return "Error: " + String(err.message || err).split("\n")[0];
}

// opts: endpoint, policy ("None", "Basic256Sha256", "Aes256_Sha256_RsaPss"), certificate, privateKey,
// serverCertificate (trusted by this client), pki (a folder for this client's own PKI), applicationUri
export async function connect(opts) {
  const policy = opts.policy || "None";
  const secured = policy !== "None";
  const pkiRoot = opts.pki;
  const manager = new OPCUACertificateManager({ rootFolder: pkiRoot, automaticallyAcceptUnknownCertificate: false });
  await manager.initialize();
  if (opts.serverCertificate) {
    const der = fs.readFileSync(opts.serverCertificate);
    fs.writeFileSync(path.join(pkiRoot, "trusted", "certs", "station.der"), der);
  }
  const client = OPCUAClient.create({
    applicationName: "inspect-app interop test",
    applicationUri: opts.applicationUri || "urn:inspect-app:test-client",
    securityMode: secured ? MessageSecurityMode.SignAndEncrypt : MessageSecurityMode.None,
    securityPolicy: secured ? SecurityPolicy[policy] : SecurityPolicy.None,
    certificateFile: opts.certificate,
    privateKeyFile: opts.privateKey,
    clientCertificateManager: manager,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 30000,
    defaultSecureTokenLifetime: 60000,
  });
  await client.connect(opts.endpoint);
  const identity = opts.user
    ? { type: UserTokenType.UserName, userName: opts.user, password: opts.password }
    : { type: UserTokenType.Anonymous };
  let session;
  try {
    session = await client.createSession(identity);
  } catch (err) {
    await client.disconnect();
    throw err;
  }
  return { client, session };
}

export async function close({ client, session }) {
  try {
    if (session) await session.close();
  } finally {
    await client.disconnect();
  }
}

export async function nsIndex(session, uri) {
  const dv = await session.read({ nodeId: "ns=0;i=2255", attributeId: 13 });
  const i = dv.value.value.indexOf(uri);
  if (i < 0) throw new Error(`namespace ${uri} not on the server`);
  return i;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Poll a node until pred(value) holds (a PLC program's scan), up to timeoutMs.
export async function waitValue(session, nodeId, pred, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const dv = await session.read({ nodeId, attributeId: 13 });
    if (pred(dv.value.value)) return dv.value.value;
    if (Date.now() > end) throw new Error(`${nodeId}: condition not met in ${timeoutMs} ms (last ${dv.value.value})`);
    await sleep(5);
  }
}

// Run main(opts) -> value; print RESULT {ok, value} or RESULT {ok:false, status}; never a stack trace.
export async function run(main) {
  const opts = options();
  try {
    const value = await main(opts);
    result({ ok: true, value });
    process.exit(0);
  } catch (err) {
    result({ ok: false, status: statusName(err), message: String(err && err.message).split("\n")[0] });
    process.exit(0);
  }
}
