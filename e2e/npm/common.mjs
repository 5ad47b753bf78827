// Shared by the npm e2e drivers: each prints exactly one JSON line on stdout
// for npm_e2e_test.go to parse, and anything else (logs, errors) on stderr.

/** The tool calls every driver makes, with the arguments the Go test expects answers for. */
export const seedCalls = [
  { key: "add", name: "add_numbers", arguments: { a: 5, b: 3 } },
  { key: "multiply", name: "multiply_numbers", arguments: { a: 4, b: 7 } },
  { key: "greet", name: "greet_user", arguments: { name: "Alice" } },
];

/** serverURL returns the one command-line argument, or exits with usage. */
export function serverURL(script) {
  const url = process.argv[2];
  if (!url || process.argv.length !== 3) {
    process.stderr.write(`usage: node ${script} http://127.0.0.1:PORT/mcp\n`);
    process.exit(2);
  }
  return url;
}

/** textOf joins a tool result's text content, failing on an error result. */
export function textOf(name, result) {
  if (result.isError) {
    throw new Error(`tools/call ${name} returned an error result: ${JSON.stringify(result.content)}`);
  }
  return (result.content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("");
}

/** callSeedTools lists the tools and calls the seed tools, returning the report fields. */
export async function callSeedTools(client) {
  const { tools } = await client.listTools();
  const report = { tools: tools.map((t) => t.name) };
  for (const call of seedCalls) {
    report[call.key] = textOf(call.name, await client.callTool({ name: call.name, arguments: call.arguments }));
  }
  return report;
}

/**
 * main runs body, prints its report as one JSON line and exits 0, or prints
 * the error on stderr and exits 1. It exits explicitly so that a handle left
 * open by a client library cannot keep the process (and the Go test) waiting.
 */
export function main(body) {
  body().then(
    (report) => {
      process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(0));
    },
    (err) => {
      process.stderr.write(`error: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
