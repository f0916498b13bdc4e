#!/usr/bin/env bash
# End-to-end check of the docker-compose stack (Envoy + the Wasm filter, host, Redis, MinIO,
# Prometheus): builds and starts it, waits until it is ready, sends bid requests from
# tests/fixtures/openrtb/valid/, checks each answer (200, the request's id), settles a win and a
# loss through the bid's own notice URLs, checks that Envoy's /stats/prometheus counted them,
# then tears the stack down (volumes included).
#
#   tests/e2e/verify.sh                 needs docker with compose (v2 plugin or docker-compose) and curl
#   NEXUS_E2E_KEEP=1 tests/e2e/verify.sh   leave the stack running afterwards
#
# Secrets: generated for this run unless already exported (the shell's environment overrides .env).
# With NEXUS_E2E_EXTERNAL=1 it starts nothing and checks a bidder that is already running at
# NEXUS_E2E_BID_URL / NEXUS_E2E_METRICS_URL / NEXUS_E2E_HOST_URL (tests/deploy runs it so against
# a standalone bidder, whose /metrics has the same filter metric names as Envoy's).
set -euo pipefail

cd "$(dirname "$0")/../.."

PROJECT="${NEXUS_E2E_PROJECT:-nexus-e2e}"
BID_URL="${NEXUS_E2E_BID_URL:-http://127.0.0.1:8080}"
METRICS_URL="${NEXUS_E2E_METRICS_URL:-http://127.0.0.1:9901/stats/prometheus}"
HOST_URL="${NEXUS_E2E_HOST_URL:-http://127.0.0.1:9090}"
READY_TIMEOUT_S="${NEXUS_E2E_READY_TIMEOUT_S:-300}"
EXTERNAL="${NEXUS_E2E_EXTERNAL:-0}"
FIXTURES="tests/fixtures/openrtb/valid"
BID_FIXTURES="spec25-simple-banner.json smaato-style-mobile-320x50.json xandr-style-leaderboard.json"

TMP="$(mktemp -d)"
COMPOSE=()

log() { printf '[verify] %s\n' "$*" >&2; }
fail() {
  printf '[verify] FAILED: %s\n' "$*" >&2
  exit 1
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

if [ ! -f docker-compose.yml ] || [ ! -d "$FIXTURES" ]; then
  fail "not in the repository root ($(pwd))"
fi

cleanup() {
  local status=$?
  if [ "$EXTERNAL" != 1 ] && [ "${#COMPOSE[@]}" -gt 0 ]; then
    if [ "$status" -ne 0 ]; then
      log "logs of the stack (last 80 lines per service):"
      "${COMPOSE[@]}" -p "$PROJECT" logs --no-color --tail 80 >&2 || true
    fi
    if [ "${NEXUS_E2E_KEEP:-0}" = 1 ]; then
      log "NEXUS_E2E_KEEP=1: the stack keeps running (${COMPOSE[*]} -p $PROJECT down -v to remove it)"
    else
      log "tearing down"
      "${COMPOSE[@]}" -p "$PROJECT" down -v --remove-orphans >&2 || true
    fi
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT

command -v curl >/dev/null 2>&1 || fail "curl is required"

# --- the stack -------------------------------------------------------------------------------
if [ "$EXTERNAL" != 1 ]; then
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
  else
    fail "docker compose (or docker-compose) is required"
  fi
  export NEXUS_ADMIN_TOKEN="${NEXUS_ADMIN_TOKEN:-e2e-$(rand_hex 16)}"
  export NEXUS_SYNC_TOKEN="${NEXUS_SYNC_TOKEN:-e2e-$(rand_hex 16)}"
  export MINIO_ROOT_USER="${MINIO_ROOT_USER:-e2e-root}"
  export MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-$(rand_hex 16)}"
  export NEXUS_S3_ACCESS_KEY_ID="${NEXUS_S3_ACCESS_KEY_ID:-e2e-model-reader}"
  export NEXUS_S3_SECRET_ACCESS_KEY="${NEXUS_S3_SECRET_ACCESS_KEY:-$(rand_hex 16)}"
  export GRAFANA_ADMIN_PASSWORD="${GRAFANA_ADMIN_PASSWORD:-$(rand_hex 12)}"
  log "building and starting the stack (project $PROJECT)"
  "${COMPOSE[@]}" -p "$PROJECT" up --build -d >&2
fi

# --- helpers ---------------------------------------------------------------------------------
# The value of an unlabelled sample (the filter's metrics have no labels; Envoy writes them
# as name{} value, the standalone host as name value), or "missing".
metric() {
  if ! curl -fsS -o "$TMP/metrics" "$METRICS_URL" 2>/dev/null; then
    echo missing
    return 0
  fi
  awk -v name="$1" '{ n = $1; sub(/\{\}$/, "", n) } n == name && !found { print $2; found = 1 } END { if (!found) print "missing" }' "$TMP/metrics"
}

# Waits until "$1" (a command) succeeds, at most READY_TIMEOUT_S seconds.
wait_for() {
  local what="$1"
  shift
  local deadline=$(($(date +%s) + READY_TIMEOUT_S))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "not ready after ${READY_TIMEOUT_S}s: $what"
    sleep 2
  done
  log "ready: $what"
}

filter_has_model() { [ "$(metric nexus_model_loaded)" = 1 ]; }
filter_has_campaigns() {
  local v
  v="$(metric nexus_config_version)"
  [ "$v" != missing ] && [ "$v" -ge 1 ]
}

# "POST $1 → $TMP/body": prints the HTTP status.
post_bid() {
  curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "$BID_URL/openrtb2/bid" \
    -H 'content-type: application/json' --data-binary @"$1"
}

# A JSON string field of the first object that has it, from a one-line JSON document.
json_string() { grep -o "\"$1\":\"[^\"]*\"" "$2" | head -n 1 | sed "s/^\"$1\":\"//; s/\"\$//"; }
json_number() { grep -o "\"$1\":[0-9.eE+-]*" "$2" | head -n 1 | sed "s/^\"$1\"://"; }
# The request's top-level id: fixtures are pretty-printed, "id" on the second line.
fixture_id() { sed -n '2s/^[[:space:]]*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }

# --- readiness -------------------------------------------------------------------------------
wait_for "host $HOST_URL/readyz (signed model loaded)" curl -fsS "$HOST_URL/readyz"
if [ "$EXTERNAL" != 1 ]; then
  wait_for "Envoy /ready" curl -fsS "${METRICS_URL%/stats/prometheus}/ready"
  wait_for "Envoy through the filter chain ($BID_URL/nexus/live)" curl -fsS "$BID_URL/nexus/live"
fi
wait_for "filter loaded the model (nexus_model_loaded 1)" filter_has_model
wait_for "filter loaded the campaigns (nexus_config_version >= 1)" filter_has_campaigns

requests_before="$(metric nexus_bid_requests_total)"
wins_before="$(metric nexus_wins_total)"
losses_before="$(metric nexus_losses_total)"
[ "$requests_before" != missing ] || fail "nexus_bid_requests_total is not exported at $METRICS_URL"
[ "$wins_before" != missing ] || fail "nexus_wins_total is not exported at $METRICS_URL"
[ "$losses_before" != missing ] || fail "nexus_losses_total is not exported at $METRICS_URL"

# --- bids ------------------------------------------------------------------------------------
sent=0
win_url=""
loss_url=""
# Each run sends its own request ids: the replay guard answers an id seen within replay_ttl_ms
# (60 s) with a no-bid, so a second check of a kept stack or a live pod failed on the fixtures' ids.
run_id="$(rand_hex 6)"
for name in $BID_FIXTURES; do
  file="$TMP/$name"
  sed "2s/^\([[:space:]]*\"id\"[[:space:]]*:[[:space:]]*\"[^\"]*\)\"/\1-$run_id\"/" "$FIXTURES/$name" >"$file"
  want="$(fixture_id "$file")"
  [ -n "$want" ] || fail "no top-level id found in $file"
  status="$(post_bid "$file")"
  sent=$((sent + 1))
  [ "$status" = 200 ] || fail "$name: expected 200, got $status $(cat "$TMP/body") (x-nexus-nobid-reason tells a 204's reason)"
  got="$(json_string id "$TMP/body")"
  [ "$got" = "$want" ] || fail "$name: response id \"$got\" is not the request id \"$want\""
  price="$(json_number price "$TMP/body")"
  nurl="$(json_string nurl "$TMP/body")"
  lurl="$(json_string lurl "$TMP/body")"
  if [ -z "$price" ] || [ -z "$nurl" ] || [ -z "$lurl" ]; then
    fail "$name: the bid lacks price, nurl or lurl: $(cat "$TMP/body")"
  fi
  log "$name: 200, id $got, price $price"
  if [ -z "$win_url" ]; then
    # Win at the bid's own price (a price above the bid would be charged at the bid).
    win_url="$(printf '%s' "$nurl" | sed "s/\${AUCTION_PRICE}/$price/")"
  elif [ -z "$loss_url" ]; then
    # shellcheck disable=SC2016 # the OpenRTB macros are literal text
    loss_url="$(printf '%s' "$lurl" | sed 's/\${AUCTION_PRICE}/0/; s/\${AUCTION_LOSS}/102/')"
  fi
done

# --- notices ---------------------------------------------------------------------------------
# GET $1, expect 200 and {"status":"$2"}.
notice() {
  local status
  status="$(curl -sS -o "$TMP/notice" -w '%{http_code}' "$1")"
  if [ "$status" != 200 ] || ! grep -q "\"status\":\"$2\"" "$TMP/notice"; then
    fail "notice $1: expected 200 {\"status\":\"$2\"}, got $status $(cat "$TMP/notice")"
  fi
  log "notice: $2"
}
notice "$win_url" charged
notice "$win_url" already_settled
notice "$loss_url" refunded

# --- metrics ---------------------------------------------------------------------------------
counted() {
  [ "$(metric nexus_bid_requests_total)" -ge $((requests_before + sent)) ] &&
    [ "$(metric nexus_wins_total)" -ge $((wins_before + 1)) ] &&
    [ "$(metric nexus_losses_total)" -ge $((losses_before + 1)) ]
}
wait_for "metrics counted $sent requests, 1 win, 1 loss" counted
log "nexus_bid_requests_total $requests_before -> $(metric nexus_bid_requests_total)"
log "nexus_wins_total $wins_before -> $(metric nexus_wins_total)"
log "nexus_losses_total $losses_before -> $(metric nexus_losses_total)"

# --- host ------------------------------------------------------------------------------------
curl -fsS "$HOST_URL/metrics" >"$TMP/host-metrics" || fail "host $HOST_URL/metrics"
grep -q '^nexus_host_budget_source_up 1' "$TMP/host-metrics" || fail "the host's budget source is not up (nexus_host_budget_source_up)"
grep -q '^nexus_host_sync_requests_total{outcome="ok"}' "$TMP/host-metrics" || fail "the host answered no sync call from the filter"
if [ -n "${NEXUS_ADMIN_TOKEN:-}" ]; then
  status="$(curl -sS -o "$TMP/state" -w '%{http_code}' -H "Authorization: Bearer $NEXUS_ADMIN_TOKEN" "$HOST_URL/admin/v1/state")"
  [ "$status" = 200 ] || fail "admin API with the token: $status"
  status="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong-token-wrong-token' "$HOST_URL/admin/v1/state")"
  [ "$status" = 401 ] || fail "admin API with a wrong token: expected 401, got $status"
  log "admin API: 200 with the token, 401 without"
fi

log "OK: $sent bids answered, win charged once, loss refunded, metrics counted"
