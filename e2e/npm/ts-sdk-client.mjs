// ts-sdk-client.mjs URL drives the proxy at URL with the official TypeScript
// MCP SDK over streamable HTTP, and prints one JSON line:
// {"tools":[...],"add":"8","multiply":"28","greet":"...","progress":3,"stream":"streamed 3 steps"}
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { callSeedTools, main, serverURL, textOf } from "./common.mjs";

const url = serverURL("ts-sdk-client.mjs");

main(async () => {
  const client = new Client({ name: "agentcore-proxy-e2e-ts-sdk", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    const report = await callSeedTools(client);
    let progress = 0;
    const streamed = await client.callTool(
      { name: "stream_progress", arguments: { steps: 3, interval_ms: 50 } },
      undefined,
      { onprogress: () => progress++ },
    );
    report.progress = progress;
    report.stream = textOf("stream_progress", streamed);
    return report;
  } finally {
    await client.close();
  }
});
