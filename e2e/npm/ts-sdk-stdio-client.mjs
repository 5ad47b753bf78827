// ts-sdk-stdio-client.mjs COMMAND [ARG...] launches COMMAND (agentcore-proxy
// stdio ...) with the official TypeScript MCP SDK's StdioClientTransport, as
// a desktop MCP host does, passes AGENTCORE_PROXY_CLIENT_SECRET on through the
// environment, and prints one JSON line:
// {"tools":[...],"add":"8","multiply":"28","greet":"...","progress":3,"stream":"streamed 3 steps","concurrent":20,
//  "elicit":"deploy: accept confirm=true","elicited":1}
// The last two only when the server offers confirm_action (a stateful server
// that asks the client by elicitation; this client answers confirm=true).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

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
  const client = new Client(
    { name: "agentcore-proxy-e2e-ts-stdio", version: "1.0.0" },
    { capabilities: { elicitation: {} } },
  );
  let elicited = 0;
  client.setRequestHandler(ElicitRequestSchema, async () => {
    elicited++;
    return { action: "accept", content: { confirm: true } };
  });
  await client.connect(transport);
  try {
    const report = await callSeedTools(client);
    // Progress is counted as it arrives on stdout, not in onprogress: the
    // SDK runs notification handlers in promise callbacks but answers
    // synchronously, and drops a call's progress handler with its answer, so
    // a last notification read in the same chunk as the answer (as happens on
    // a pipe) never reaches onprogress though it came first.
    let progress = 0;
    const deliver = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (message.method === "notifications/progress") progress++;
      deliver(message, extra);
    };
    const streamed = await client.callTool(
      { name: "stream_progress", arguments: { steps: 3, interval_ms: 50 } },
      undefined,
      { onprogress: () => {} },
    );
    transport.onmessage = deliver;
    report.progress = progress;
    report.stream = textOf("stream_progress", streamed);
    const sums = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.callTool({ name: "add_numbers", arguments: { a: i, b: 1000 } }).then((r) => textOf("add_numbers", r)),
      ),
    );
    report.concurrent = sums.filter((s, i) => s === String(i + 1000)).length;
    if (report.tools.includes("confirm_action")) {
      report.elicit = textOf(
        "confirm_action",
        await client.callTool({ name: "confirm_action", arguments: { action: "deploy" } }),
      );
      report.elicited = elicited;
    }
    return report;
  } finally {
    await client.close();
  }
});
