// Runs a scripts/ops tool under bash with stand-in kubectl/ssh/scp/pulumi (test/ops/fake.js) first on
// PATH, and a copy of the system PATH that hides the real cluster tools, so a test can never reach a
// real cluster or host even when a rule is missing.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";

export const REPO = path.resolve(__dirname, "..", "..");
export const OPS = path.join(REPO, "scripts", "ops");
export const FIXTURES = __dirname;
const FAKE = path.join(__dirname, "fake.js");

export interface Reply {
  out?: string;
  outFile?: string;
  err?: string;
  code?: number;
  /** Seconds to hang before answering (lets a test interrupt the caller mid-call). */
  sleep?: number;
}
export interface Rule extends Reply {
  tool: "kubectl" | "ssh" | "scp" | "pulumi";
  /** Regex over the arguments joined by spaces. */
  args?: string;
  host?: string;
  /** Regex over what the caller wrote to stdin (ssh: the remote script). */
  stdin?: string;
  /** Successive matching calls get these replies in order; the last repeats. */
  seq?: Reply[];
}
export interface Call {
  tool: string;
  args: string[];
  host?: string;
  remote: string;
  stdin: string;
  pid: number;
  t: number;
}
export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  calls: Call[];
  state: string;
  workdir: string;
}

// Real tools that must never run from a test (they would touch a real cluster or this machine).
const HIDDEN = new Set(["kubectl", "ssh", "scp", "pulumi", "sudo", "strace", "iptables", "iptables-save", "ip", "ss",
  "kubeadm", "systemctl", "crictl", "apt-get", "ipvsadm"]);
let sysbin: string | undefined;
const created: string[] = [];

/** A temp directory removed after the test file. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}
afterAll(() => {
  for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  if (sysbin) fs.rmSync(sysbin, { recursive: true, force: true });
  sysbin = undefined;
});

function systemBin(): string {
  if (sysbin) return sysbin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-sysbin-"));
  for (const d of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (!fs.existsSync(d)) continue;
    for (const name of fs.readdirSync(d)) {
      if (HIDDEN.has(name) || fs.existsSync(path.join(dir, name))) continue;
      fs.symlinkSync(path.join(d, name), path.join(dir, name));
    }
  }
  sysbin = dir;
  return dir;
}

export interface RunOptions {
  rules?: Rule[];
  env?: Record<string, string>;
  input?: string;
  /** Let the stand-in ssh run unmatched remote scripts locally against test/ops/nodebin. */
  exec?: boolean;
  /** Stand-ins to leave off PATH (prerequisite tests). */
  without?: string[];
  /** Send `signal` once `when(calls)` holds; `group` = to the whole process group, like Ctrl-C. */
  interrupt?: { when: (calls: Call[]) => boolean; signal: NodeJS.Signals; group: boolean };
  timeoutMs?: number;
  cwd?: string;
}

export function readCalls(state: string): Call[] {
  const f = path.join(state, "calls.jsonl");
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Call);
}

export function runOps(script: string, args: string[], opts: RunOptions = {}): Promise<Result> {
  const workdir = tempDir("ops-run-");
  const state = path.join(workdir, "state");
  const fakebin = path.join(workdir, "bin");
  const home = path.join(workdir, "home");
  const tmp = path.join(workdir, "tmp");
  for (const d of [state, fakebin, home, tmp]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(state, "rules.json"), JSON.stringify(opts.rules ?? []));
  for (const t of ["kubectl", "ssh", "scp", "pulumi"]) {
    if (opts.without?.includes(t)) continue;
    fs.writeFileSync(path.join(fakebin, t), `#!/bin/sh\nexec node ${FAKE} ${t} "$@"\n`, { mode: 0o755 });
  }
  const env: Record<string, string> = {
    PATH: `${fakebin}:${systemBin()}`,
    HOME: home,
    TMPDIR: tmp,
    LANG: "C.UTF-8",
    FAKE_STATE: state,
    FAKE_SAMPLES: path.join(FIXTURES, "strace"),
    FAKE_NET: path.join(FIXTURES, "net"),
    ...(opts.exec ? { FAKE_SSH_EXEC: "1" } : {}),
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(OPS, script), ...args], {
      env,
      cwd: opts.cwd ?? workdir,
      detached: true, // own process group, so a test can Ctrl-C it like a terminal would
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(opts.input ?? "");
    let poll: NodeJS.Timeout | undefined;
    if (opts.interrupt) {
      const it = opts.interrupt;
      poll = setInterval(() => {
        if (child.pid === undefined || !it.when(readCalls(state))) return;
        clearInterval(poll);
        poll = undefined;
        process.kill(it.group ? -child.pid : child.pid, it.signal);
      }, 100);
    }
    const guard = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      reject(new Error(`${script} did not finish in time\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 40000);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      if (poll) clearInterval(poll);
      resolve({ code, signal, stdout, stderr, calls: readCalls(state), state, workdir });
    });
  });
}

/** True when a process with this PID is still alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
