#!/usr/bin/env bash
# smoke-test.sh builds the FROM scratch image with deploy/build-image.sh and
# runs it with podman, all traffic on 127.0.0.1:
#   - the image: size under 25 MB, user 65532:65532, HEALTHCHECK, labels,
#     no shell;
#   - `serve` in a container (host network, read-only root, no capabilities,
#     the client secret mounted as a file) against the demo emulator running
#     on the host; tools listed through it with the TypeScript MCP SDK;
#     /healthz and /readyz on --metrics-listen; the process's uid; a clean
#     exit on SIGTERM;
#   - `demo` in a container with a published port, checked with
#     `podman healthcheck run` (the image's own HEALTHCHECK) and the MCP client.
#
# Needs podman and runc (apt-get install -y podman runc), go, node and the
# npm MCP clients (npm ci --prefix e2e/npm). Debian's default runtime, crun,
# fails on some machines (sandboxes without the cgroup setup it wants), so
# containers run with runc and explicit ulimits; SMOKE_RUNTIME overrides.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
die() { echo "smoke-test.sh: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman not found: apt-get update && apt-get install -y podman runc"
command -v node >/dev/null || die "node not found: apt-get install -y nodejs npm"
[ -d "$root/e2e/npm/node_modules/@modelcontextprotocol/sdk" ] || die "MCP client missing: npm ci --prefix e2e/npm"

runtime="${SMOKE_RUNTIME:-runc}"
command -v "$runtime" >/dev/null || die "$runtime not found: apt-get install -y $runtime"
run_flags=(--runtime "$runtime" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# 25 MB: issue 12's ceiling once the AWS SDK (credential chain, SSM, Secrets
# Manager, STS) is linked; the image was 15.96 MB before, 21.20 MB with it.
max_size=$((25 * 1000 * 1000))
id="agentcore-proxy-smoke-$$"
image="localhost/agentcore-proxy:smoke-$$"
secret_path=/run/secrets/agentcore-proxy/client-secret
work="$(mktemp -d)"
demo_pid=""

cleanup() {
  timeout 60 podman rm -f -t 0 "$id-serve" "$id-demo" >/dev/null 2>&1 || true
  timeout 60 podman rmi -f "$image" >/dev/null 2>&1 || true
  if [ -n "$demo_pid" ]; then
    kill "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

pm() { timeout 120 podman "$@"; }
ok() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  for c in "$id-serve" "$id-demo"; do
    if pm container exists "$c"; then
      echo "--- podman logs $c" >&2
      pm logs "$c" 2>&1 | tail -20 >&2 || true
    fi
  done
  exit 1
}
# wait_for CMD... polls CMD for up to 30 s.
wait_for() {
  local _
  for _ in $(seq 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}
# log_addr CONTAINER MSG prints the addr of the container's JSON log line MSG.
log_addr() {
  pm logs "$1" 2>&1 | sed -n "s/.*\"msg\":\"$2\",\"addr\":\"\\([^\"]*\\)\".*/\\1/p" | head -1
}
has_log_addr() { [ -n "$(log_addr "$1" "$2")" ]; }
list_tools() {
  timeout 60 node "$root/e2e/npm/ts-sdk-client.mjs" "$1" >"$work/tools.json" ||
    fail "ts-sdk-client.mjs $1: $(cat "$work/tools.json")"
  grep -q '"add_numbers"' "$work/tools.json" || fail "tools/list through $1: $(cat "$work/tools.json")"
  ok "tools through $1: $(head -c 160 "$work/tools.json")"
}

echo "== build the image ($image)"
VERSION=smoke "$root/deploy/build-image.sh" "$image" >/dev/null

size="$(pm image inspect --format '{{.Size}}' "$image")"
[ "$size" -lt "$max_size" ] || fail "image size $size bytes, want < $max_size (25 MB)"
ok "image size $size bytes ($((size * 100 / 1048576 / 100)).$((size * 100 / 1048576 % 100)) MiB)"
user="$(pm image inspect --format '{{.Config.User}}' "$image")"
[ "$user" = "65532:65532" ] || fail "image Config.User = \"$user\", want 65532:65532"
ok "image Config.User $user"
hc="$(pm image inspect --format '{{.HealthCheck.Test}}' "$image")"
[ "$hc" = "[CMD /agentcore-proxy healthcheck]" ] || fail "image HEALTHCHECK = $hc, want [CMD /agentcore-proxy healthcheck]"
ok "image HEALTHCHECK $hc"
label="$(pm image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$image")"
[ "$label" = smoke ] || fail "label org.opencontainers.image.version = \"$label\", want smoke"
ok "OCI labels (version $label)"
if pm run --rm "${run_flags[@]}" --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
  fail "/bin/sh ran in the image; want no shell"
fi
ok "no /bin/sh in the image"

echo "== the demo emulator on the host"
(cd "$root" && go build -o "$work/agentcore-proxy" .)
"$work/agentcore-proxy" demo --listen 127.0.0.1:0 --log-format json >"$work/demo.out" 2>"$work/demo.err" &
demo_pid=$!
wait_for grep -q 'Cognito at' "$work/demo.out" || fail "host demo did not start: $(cat "$work/demo.err")"
arn="$(awk '/Runtime ARN:/ {print $3}' "$work/demo.out")"
endpoint="$(sed -n 's/.*(emulated at \([^,]*\), Cognito at .*/\1/p' "$work/demo.out")"
issuer="$(sed -n 's/.*, Cognito at \([^)]*\)).*/\1/p' "$work/demo.out")"
if [ -z "$arn" ] || [ -z "$endpoint" ] || [ -z "$issuer" ]; then
  fail "cannot read the emulator's URLs from: $(cat "$work/demo.out")"
fi
ok "emulator: $endpoint, Cognito $issuer"

echo "== serve in a container against the host emulator"
printf '%s' demo-client-secret >"$work/client-secret"
chmod 0644 "$work/client-secret" # the container runs as 65532
# --no-healthcheck: the image's HEALTHCHECK assumes --listen 127.0.0.1:8080.
pm run -d --name "$id-serve" "${run_flags[@]}" --network host --no-healthcheck \
  --read-only --cap-drop ALL --security-opt no-new-privileges \
  -v "$work/client-secret:$secret_path:ro" \
  -e AGENTCORE_PROXY_CLIENT_ID=demo-client-id \
  "$image" serve --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --runtime-arn "$arn" --endpoint-url "$endpoint" \
  --discovery-url "$issuer/.well-known/openid-configuration" \
  --client-secret-file "$secret_path" --drain-timeout 5s >/dev/null 2>>"$work/podman.err" ||
  fail "podman run (serve): $(cat "$work/podman.err")"
wait_for has_log_addr "$id-serve" listening || fail "serve did not log its address"
wait_for has_log_addr "$id-serve" "metrics listening" || fail "serve did not log its metrics address"
addr="$(log_addr "$id-serve" listening)"
metrics="$(log_addr "$id-serve" "metrics listening")"
ok "serve listening on $addr, metrics on $metrics"
pm exec "$id-serve" /agentcore-proxy healthcheck --url "http://$metrics/healthz" >/dev/null ||
  fail "healthcheck of http://$metrics/healthz"
wait_for pm exec "$id-serve" /agentcore-proxy healthcheck --ready --url "http://$metrics/readyz" ||
  fail "http://$metrics/readyz never answered 200"
ok "healthcheck subcommand: /healthz and /readyz on the metrics port"
list_tools "http://$addr/mcp"
pid="$(pm inspect --format '{{.State.Pid}}' "$id-serve")"
uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
[ "$uid" = 65532 ] || fail "the proxy runs as uid $uid, want 65532"
ok "the proxy process runs as uid $uid"
pm stop -t 30 "$id-serve" >/dev/null
code="$(pm inspect --format '{{.State.ExitCode}}' "$id-serve")"
[ "$code" = 0 ] || fail "exit status after SIGTERM = $code, want 0"
ok "clean exit on SIGTERM"

echo "== demo in a container, port published on 127.0.0.1"
pm run -d --name "$id-demo" "${run_flags[@]}" --read-only --cap-drop ALL \
  --security-opt no-new-privileges -p 127.0.0.1::8080 \
  "$image" demo --listen 0.0.0.0:8080 --insecure-no-inbound-auth >/dev/null 2>>"$work/podman.err" ||
  fail "podman run (demo): $(cat "$work/podman.err")"
hostport="$(pm port "$id-demo" 8080/tcp | head -1)"
[ -n "$hostport" ] || fail "no published port for 8080"
# Without systemd, podman logs that it cannot schedule health checks (stderr,
# kept in $work/podman.err); `podman healthcheck run` still runs one.
wait_for pm healthcheck run "$id-demo" || fail "podman healthcheck run (the image's HEALTHCHECK) never passed"
ok "podman healthcheck run: healthy"
list_tools "http://$hostport/mcp"

echo "smoke test passed"
