// nexus-rtb: one CLI for the bidder and its tools.
//   serve     run the bidder (standalone: filter VMs + control plane; sidecar: control plane for Envoy)
//   keygen    create an Ed25519 key pair for model signing
//   sign      write <model>.sha256 and <model>.sig
//   train | replay | loadgen   offline tools on the same compiled core (see docs/TOOLS.md)
//   check-campaigns  the host's and the filter's checks of a campaigns file, before it is deployed
//   ip-ranges  the filter's invalid_traffic.ip_ranges built from data-centre range files
import { loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { closeControlPlane, startStandalone, startControlPlane } from "../standalone.ts";
import { waitNoticeWindow } from "../server/notice-window.ts";
import { keygen, signModel } from "../models/index.ts";
import { codedErrorLine } from "../errors.ts";
import { parse, str, flag, type Values } from "../tools/args.ts";
import { UsageError } from "../tools/errors.ts";
import { CHECK_CAMPAIGNS_USAGE, checkCampaigns } from "./check-campaigns.ts";
import { IP_RANGES_USAGE, ipRanges } from "./ip-ranges.ts";

/** A sidecar's filter that has not synced for this long (three default sync periods) has gone. */
const FILTER_SILENT_MS = 3000;

const USAGE = `usage: nexus-rtb <command> [options]

commands:
  serve [--config FILE]        run the bidder (NEXUS_* environment variables override the file)
  keygen --out DIR [--force]   create private.pem / public.pem for model signing
  sign --model FILE --key PEM  write FILE.sha256 and FILE.sig
  train | replay | loadgen     offline tools (run with --help)
  check-campaigns --file FILE  check a campaigns file as a host would before publishing it [--currency CODE] [--json]
  ip-ranges --file FILE ...    the plugin's invalid_traffic.ip_ranges from cloud providers' range files or CIDR lists
`;

const SERVE_USAGE = "usage: nexus-rtb serve [--config FILE]\n";

/**
 * The command's flags (strict: an unknown flag or a stray argument is refused), or undefined after
 * printing what is wrong and the usage: the caller exits 2, as the tools do for a bad command line.
 */
function commandLine(argv: string[], options: Parameters<typeof parse>[1], usage: string): Values | undefined {
  try {
    return parse(argv, options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage}`);
    return undefined;
  }
}

async function serve(argv: string[]): Promise<number> {
  const values = commandLine(argv, { config: { type: "string" }, help: { type: "boolean", short: "h" } }, SERVE_USAGE);
  if (values === undefined) return 2;
  if (flag(values, "help")) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const cfg = loadConfig({ file: str(values, "config") });
  const log = createLogger(cfg.logLevel);
  // From here to the exit: Node's defaults for SIGHUP, SIGTERM and SIGINT (exit at once) would
  // kill a host still starting or draining.
  const hup = sighupHandler(log);
  const stop = stopSignals(log);
  if (cfg.mode === "sidecar") {
    const cp = await startControlPlane(cfg, log);
    hup.started(cp.reloadCampaigns);
    log.info({ event: "listening", control: cp.controlUrl }, "control plane ready for Envoy");
    process.stdout.write(`nexus-rtb control plane listening on ${cp.controlUrl} (Envoy runs the filter)\n`);
    await stop.requested;
    hup.stopping();
    // Envoy's filter still syncs: its syncs are answered as for paused campaigns until a report
    // shows its unspent grants given back (meanwhile it has nothing left to bid with), then go.
    log.info({ event: "stopping" }, "shutting down: returning unspent budget");
    await cp.sync.returnUnspent(cfg.budget.returnWaitMs);
    // Envoy still answers win and loss notices (its preStop outlasts this host's: deploy/k8s) and
    // its filter charges them, but only its syncs bring those charges to the budget store: keep
    // answering them for the notice window, less once the filter reports nothing reserved, or
    // once its syncs stop (Envoy gone, e.g. compose stops every container at once).
    const view = {
      connections: async () => 0,
      reports: () => cp.sync.syncs,
      reservedMicros: () => cp.sync.reservedMicros(),
      // Envoy's reservations refunded at their TTL, as its reports say: their late wins are charged
      // by the filter and reach the budget store only through its syncs.
      msSinceExpiry: () => performance.now() - cp.sync.filter.lastExpiryAt,
    };
    const ended = await waitNoticeWindow(cfg.drain.noticeMs, view, 50, FILTER_SILENT_MS);
    log.info({ event: "notice_window_closed", ended }, "notice window over: the filter's last reports are in");
    await closeControlPlane(cp);
    return 0;
  }
  const app = await startStandalone(cfg, log);
  hup.started(app.reloadCampaigns);
  // The bid port listens before the VMs are ready: a stop asked for meanwhile drains what came in.
  if ((await Promise.race([app.ready().then(() => "ready" as const), stop.requested])) === "ready") {
    process.stdout.write(
      `\nNexus-RTB bidder listening on ${app.bidUrl} (${cfg.vms} filter VMs, ${cfg.vmMode}); control plane on ${app.controlUrl}\n\n` +
        `Send a bid request:\n` +
        `  curl -s -X POST ${app.bidUrl}/openrtb2/bid -H 'content-type: application/json' \\\n` +
        `    -d '{"id":"req-1","imp":[{"id":"1","banner":{"w":300,"h":250},"bidfloor":0.5}],"site":{"domain":"news.example","page":"https://news.example/a"},"device":{"ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0","ip":"203.0.113.7","geo":{"country":"USA"}}}'\n\n` +
        `Health: ${app.controlUrl}/readyz   Metrics: ${app.controlUrl}/metrics   Stop: Ctrl-C\n` +
        (cfg.budget.source === "memory" && cfg.budget.stateFile === ""
          ? `Budget: in this process only (demo): a restart resets spend and caps; NEXUS_BUDGET_STATE_FILE or NEXUS_BUDGET_SOURCE=redis keeps them\n`
          : ""),
    );
    await stop.requested;
  }
  hup.stopping();
  log.info({ event: "stopping" }, "shutting down: answering the requests in flight");
  await app.stop();
  return 0;
}

/**
 * SIGHUP reloads the campaigns file (instead of Node's default: exit). The reload logs its
 * outcome (info, or error with the reason while the current set stays). A SIGHUP during start-up
 * reloads once started (the file may have changed after it was read); one while stopping is ignored.
 */
function sighupHandler(log: ReturnType<typeof createLogger>): { started(reload: (trigger: "sighup") => Promise<unknown>): void; stopping(): void } {
  let reload: ((trigger: "sighup") => Promise<unknown>) | undefined;
  let pending = false;
  let stopping = false;
  const run = () => void reload!("sighup").catch(() => {}); // logged by the reloader
  process.on("SIGHUP", () => {
    if (stopping) log.warn({ event: "sighup_ignored" }, "SIGHUP ignored: the host is stopping");
    else if (reload) run();
    else pending = true;
  });
  return {
    started(r) {
      reload = r;
      if (pending) {
        pending = false;
        run();
      }
    },
    stopping() {
      stopping = true;
    },
  };
}

/**
 * SIGTERM and SIGINT, handled from the start of `serve` to its exit: the first asks for a stop
 * (`requested` resolves with its name). A repeated SIGTERM while starting or draining is logged
 * and ignored: with Node's default it killed the drain and cut the requests in flight, and a
 * SIGTERM can come twice (to a whole process group, and again from `npm start`'s watcher once the
 * shell above it is gone). A second SIGINT (Ctrl-C again at a terminal) exits at once, 130; one
 * within half a second of the first is the same Ctrl-C delivered twice (to the process group and
 * passed on by a parent) and is ignored too.
 */
function stopSignals(log: ReturnType<typeof createLogger>): { requested: Promise<"SIGTERM" | "SIGINT"> } {
  let askedAt = -1;
  let resolve!: (signal: "SIGTERM" | "SIGINT") => void;
  const requested = new Promise<"SIGTERM" | "SIGINT">((r) => (resolve = r));
  const on = (signal: "SIGTERM" | "SIGINT"): void => {
    if (askedAt < 0) {
      askedAt = Date.now();
      resolve(signal);
    } else if (signal === "SIGINT" && Date.now() - askedAt >= 500) {
      log.warn({ event: "stop_forced", signal }, "second Ctrl-C: exiting without finishing the drain");
      process.exit(130);
    } else {
      log.warn({ event: "signal_ignored", signal }, `${signal} ignored: the host is already stopping`);
    }
  };
  process.on("SIGTERM", () => on("SIGTERM"));
  process.on("SIGINT", () => on("SIGINT"));
  return { requested };
}

const KEYGEN_USAGE = "usage: nexus-rtb keygen --out DIR [--force]\n  writes DIR/private.pem and DIR/public.pem (Ed25519, for model signing); --force overwrites them\n";
const SIGN_USAGE = "usage: nexus-rtb sign --model FILE --key PRIVATE_PEM\n  writes FILE.sha256 and FILE.sig next to the model\n";

async function keygenCmd(argv: string[]): Promise<number> {
  const values = commandLine(argv, { out: { type: "string" }, force: { type: "boolean" }, help: { type: "boolean", short: "h" } }, KEYGEN_USAGE);
  if (values === undefined) return 2;
  if (flag(values, "help")) {
    process.stdout.write(KEYGEN_USAGE);
    return 0;
  }
  const out = str(values, "out");
  if (!out) {
    process.stderr.write("keygen: --out DIR is required\n");
    return 2;
  }
  const r = await keygen(out, { overwrite: flag(values, "force") });
  process.stdout.write(JSON.stringify(r) + "\n");
  return 0;
}

async function signCmd(argv: string[]): Promise<number> {
  const values = commandLine(argv, { model: { type: "string" }, key: { type: "string" }, help: { type: "boolean", short: "h" } }, SIGN_USAGE);
  if (values === undefined) return 2;
  if (flag(values, "help")) {
    process.stdout.write(SIGN_USAGE);
    return 0;
  }
  const model = str(values, "model");
  const key = str(values, "key");
  if (!model || !key) {
    process.stderr.write("sign: --model FILE and --key PRIVATE_PEM are required\n");
    return 2;
  }
  const r = await signModel(model, key);
  process.stdout.write(JSON.stringify(r) + "\n");
  return 0;
}

/** Offline tools, loaded lazily: they pull in the compiled core and the data readers. */
const TOOLS: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  train: () => import("../tools/train.ts"),
  replay: () => import("../tools/replay.ts"),
  loadgen: () => import("../tools/loadgen.ts"),
};

async function tool(name: string, argv: string[]): Promise<number> {
  const load = TOOLS[name];
  if (!load) {
    process.stderr.write(`${name}: not available in this build\n`);
    return 2;
  }
  return (await load()).main(argv);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "keygen":
      return keygenCmd(rest);
    case "sign":
      return signCmd(rest);
    case "train":
    case "replay":
    case "loadgen":
      return tool(command, rest);
    case "check-campaigns": {
      const values = commandLine(rest, { file: { type: "string" }, currency: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, CHECK_CAMPAIGNS_USAGE);
      if (values === undefined) return 2;
      if (flag(values, "help")) {
        process.stdout.write(CHECK_CAMPAIGNS_USAGE);
        return 0;
      }
      return checkCampaigns(values);
    }
    case "ip-ranges": {
      const values = commandLine(rest, { file: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } }, IP_RANGES_USAGE);
      if (values === undefined) return 2;
      if (flag(values, "help")) {
        process.stdout.write(IP_RANGES_USAGE);
        return 0;
      }
      return ipRanges(values);
    }
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`nexus-rtb: ${codedErrorLine(err) ?? err.message}\n`);
    // Exit now: a server that failed half-way through starting (a port taken, no model in time)
    // still holds listeners, timers and VMs that would keep the process up, unhealthy, and a
    // supervisor would never restart it. (stderr is written synchronously to files, TTYs and pipes.)
    process.exit(1);
  },
);
