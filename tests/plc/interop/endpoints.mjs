// Discovery: open an unsecured channel (no session) and ask for the endpoints, as clients do before they
// choose a secured one.
import { OPCUAClient, MessageSecurityMode, SecurityPolicy } from "node-opcua-client";
import { run } from "./lib.mjs";

await run(async (opts) => {
  const client = OPCUAClient.create({
    applicationName: "inspect-app interop test",
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  await client.connect(opts.endpoint);
  try {
    const endpoints = await client.getEndpoints();
    return endpoints.map((e) => ({
      policy: e.securityPolicyUri.split("#")[1],
      mode: MessageSecurityMode[e.securityMode],
      tokens: e.userIdentityTokens.map((t) => t.policyId),
    }));
  } finally {
    await client.disconnect();
  }
});
