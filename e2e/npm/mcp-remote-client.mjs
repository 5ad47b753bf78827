// mcp-remote-client.mjs URL runs mcp-remote as a stdio bridge to the proxy at
// URL, the way a desktop MCP host (Claude Desktop, Cursor) would, drives it
// with the TypeScript SDK's stdio client, and prints one JSON line:
// {"tools":[...],"add":"8","multiply":"28","greet":"..."}
//
// The proxy does the OAuth, so mcp-remote must never start its own browser
// sign-in: it only does so when the server answers 401, and this driver fails
// at once if mcp-remote says it needs authentication.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

import { callSeedTools, main, serverURL } from "./common.mjs";

const url = serverURL("mcp-remote-client.mjs");

/** bridgeBin returns the path of mcp-remote's stdio bridge, from its package.json "bin". */
async function bridgeBin() {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve("mcp-remote/package.json");
  const pkg = JSON.parse(await readFile(pkgPath, "utf8"));
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin["mcp-remote"];
  return path.join(path.dirname(pkgPath), bin);
}

// Lines mcp-remote 0.15 logs once a 401 has started its own OAuth sign-in, the
// first as soon as its startup probe sees one, all before any browser opens.
const authNeeded = /Initializing auth coordination|OAuth callback server running|Authentication required|Please authorize/;

main(async () => {
  // A private config dir: no tokens cached under ~/.mcp-auth are sent, and
  // nothing is left behind. The SDK passes the child only HOME, LOGNAME, PATH,
  // SHELL, TERM and USER besides this, so on Linux it has no DISPLAY to open a
  // browser on even if the guard below were too late.
  const configDir = await mkdtemp(path.join(tmpdir(), "mcp-remote-e2e-"));
  const transport = new StdioClientTransport({
    command: process.execPath,
    // http-only: the proxy speaks streamable HTTP only; the default
    // http-first would fall back to the deprecated SSE transport on a 404/405
    // and hide a proxy regression.
    args: [await bridgeBin(), url, "--transport", "http-only"],
    env: { MCP_REMOTE_CONFIG_DIR: configDir },
    stderr: "pipe",
  });
  const authFailure = new Promise((_, reject) => {
    let log = "";
    transport.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      log += chunk;
      if (authNeeded.test(log)) {
        // Kill it before it gets as far as a browser; mcp-remote logs these
        // lines before it spawns one.
        killIfAlive(transport.pid);
        reject(new Error("mcp-remote started its own OAuth sign-in (the server answered 401); through the proxy it never should"));
      }
    });
  });
  authFailure.catch(() => {}); // raced below; not an unhandled rejection if never raced

  const client = new Client({ name: "agentcore-proxy-e2e-mcp-remote", version: "1.0.0" });
  try {
    return await Promise.race([
      (async () => {
        await client.connect(transport);
        return await callSeedTools(client);
      })(),
      authFailure,
    ]);
  } finally {
    const pid = transport.pid;
    // close ends mcp-remote's stdin, then escalates to SIGTERM and SIGKILL.
    await client.close();
    killIfAlive(pid);
    await rm(configDir, { recursive: true, force: true });
  }
});

/** killIfAlive sends SIGKILL to pid unless it has already gone. */
function killIfAlive(pid) {
  if (pid === null) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if (err.code !== "ESRCH") throw err;
  }
}
