// ts-sdk-stdio-client.mjs COMMAND [ARG...] launches COMMAND (agentcore-proxy
// stdio ...) with the official TypeScript MCP SDK's StdioClientTransport, as
// a desktop MCP host does, passes AGENTCORE_PROXY_CLIENT_SECRET on through the
// environment, and prints one JSON line:
// {"tools":[...],"add":"8","multiply":"28","greet":"...","progress":3,"stream":"streamed 3 steps","concurrent":20}
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

import { callSeedTools, main, textOf } from "./common.mjs";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node ts-sdk-stdio-client.mjs COMMAND [ARG...]\n");
  process.exit(2);
}

main(async () => {
  const transport = new StdioClientTransport({
    command,
    args,
    // The SDK passes the child only a few variables (HOME, PATH, ...) besides these.
    env: { AGENTCORE_PROXY_CLIENT_SECRET: process.env.AGENTCORE_PROXY_CLIENT_SECRET ?? "" },
    stderr: "inherit",
  });
  const client = new Client({ name: "agentcore-proxy-e2e-ts-stdio", version: "1.0.0" });
  await client.connect(transport);
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
    const sums = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.callTool({ name: "add_numbers", arguments: { a: i, b: 1000 } }).then((r) => textOf("add_numbers", r)),
      ),
    );
    report.concurrent = sums.filter((s, i) => s === String(i + 1000)).length;
    return report;
  } finally {
    await client.close();
  }
});
