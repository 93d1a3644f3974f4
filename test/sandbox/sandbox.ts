// One sandbox "node": a fresh copy of the cached Debian root, living in its own mount, UTS, IPC,
// network and PID namespaces for as long as the node exists (like a machine that stays up between two
// `pulumi up`s: sysctls applied by the first run are still applied for the second). Scripts run in
// those namespaces, chrooted into the root, as root, through `timeout`, the way remoteBash runs them.
//
// What protects the test host: the mounts exist only in the private mount namespace; the network
// namespace has only a loopback link (no route anywhere); hostname changes stay in the UTS namespace;
// /proc/sys is read-only except /proc/sys/net (which is per network namespace), so a stray
// `sysctl kernel.*` cannot change the host kernel.
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { BaseCache, fastTmpBase } from "./cache";
import { Repos } from "./repos";
import * as S from "./standins";

/** Inside the sandbox: where the Kubernetes repo is mounted; aptBase for the specs. */
export const SANDBOX_APT_BASE = "file:///srv/k8s/";

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in milliseconds. */
  readonly ms: number;
  readonly timedOut: boolean;
}

/** An Ubuntu 22.04-like fstab with the swap file line the prep script must comment out. */
export const FSTAB_WITH_SWAP = "LABEL=cloudimg-rootfs\t/\text4\tdiscard,errors=remount-ro\t0 1\n/swap.img\tnone\tswap\tsw\t0\t0\n";

const PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs a host command; resolves with its result (never rejects on a non-zero exit). */
export function sh(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let timedOut = false;
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          p.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    p.on("error", reject);
    p.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err, ms: Date.now() - t0, timedOut });
    });
    p.stdin.on("error", () => undefined); // a script that ignores stdin closes it early
    p.stdin.end(opts.input ?? "");
  });
}

// Runs on the host inside the new namespaces, before the node is used: mounts what a chroot needs.
const SETUP = `set -euo pipefail
R="$1"; K="$2"; D="$3"; A="\${4:-}"
hostname "$(cat "$R/etc/hostname")"
ip link set lo up
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw "$R/proc/sys/net"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for d in null zero full random urandom tty; do : > "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir -p "$R/dev/shm" "$R/dev/pts"; mount -t tmpfs tmpfs "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"; ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=755 tmpfs "$R/run"; mkdir -p "$R/run/lock"
mkdir -p "$R/srv/k8s" "$R/srv/debian"
mount --bind "$K" "$R/srv/k8s"; mount -o remount,bind,ro "$R/srv/k8s"
mount --bind "$D" "$R/srv/debian"; mount -o remount,bind,ro "$R/srv/debian"
if [ -n "$A" ]; then mkdir -p "$R/srv/api"; mount --bind "$A" "$R/srv/api"; fi
echo ready
exec sleep 3600
`;

/** A fresh folder for a test file's nodes and repos, in memory when possible (see fastTmpBase). */
export function sandboxWorkDir(label: string): string {
  return fs.mkdtempSync(path.join(fastTmpBase(), `kubeadm-sandbox-${label}-`));
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** The (single) child process of `pid`: via /proc/<pid>/task/<pid>/children, else by scanning /proc. */
function childOf(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0]);
  } catch {
    for (const e of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      // /proc/<n>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ")".
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) return Number(e);
    }
    return -1;
  }
}

export class SandboxNode {
  private constructor(
    readonly name: string,
    readonly root: string,
    private readonly holder: ChildProcess,
    private readonly nsPid: number,
  ) {}

  /**
   * Extracts a fresh root, points apt at the local repos, installs the stand-ins, enters namespaces.
   * `apiDir` (makeApiState): the cluster's shared fake API state, bind-mounted read-write at /srv/api.
   */
  static async create(name: string, workDir: string, base: BaseCache, repos: Repos, apiDir?: string): Promise<SandboxNode> {
    const root = path.join(workDir, name);
    fs.mkdirSync(root, { recursive: true });
    const x = await sh("tar", ["--numeric-owner", "-xf", base.rootTar, "-C", root], { timeoutMs: 120_000 });
    if (x.code !== 0) throw new Error(`sandbox ${name}: extracting the root failed: ${x.stderr}`);
    const w = (rel: string, content: string, mode = 0o644) => {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content, { mode });
      fs.chmodSync(p, mode);
    };
    // The Debian mirror stand-in replaces the root's sources: same packages, signed, no network.
    fs.copyFileSync(repos.keyring, path.join(root, "usr/share/keyrings/sandbox-archive-keyring.gpg"));
    w("etc/apt/sources.list", "deb [signed-by=/usr/share/keyrings/sandbox-archive-keyring.gpg] file:/srv/debian/ ./\n");
    // Ubuntu's starting state: the cloud image's fstab (with a swap file) and its default hostname.
    w("etc/fstab", FSTAB_WITH_SWAP);
    w("etc/hostname", "ubuntu\n");
    w("etc/hosts", "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n");
    w("usr/bin/systemctl", S.SYSTEMCTL, 0o755);
    w("usr/bin/hostnamectl", S.HOSTNAMECTL, 0o755);
    w("usr/sbin/policy-rc.d", S.POLICY_RC_D, 0o755);
    fs.mkdirSync(path.join(root, S.LOG_DIR.slice(1)), { recursive: true });
    // The cloud image's login user (init.sh copies admin.conf to its ~/.kube).
    const u = await sh("chroot", [root, "useradd", "-m", "-s", "/bin/bash", "ubuntu"]);
    if (u.code !== 0) throw new Error(`sandbox ${name}: useradd ubuntu failed: ${u.stderr}`);

    const holder = await startHolder(
      ["--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private", "bash", "-c", SETUP, "sandbox-setup", root, repos.k8sDir, repos.debianDir, apiDir ?? ""],
      `sandbox ${name}: namespace setup`,
    );
    // unshare forks the namespace's PID 1; nsenter must target that child, not unshare itself.
    const nsPid = childOf(holder.pid ?? -1);
    if (!Number.isInteger(nsPid) || nsPid <= 0) throw new Error(`sandbox ${name}: no namespace init process`);
    return new SandboxNode(name, root, holder, nsPid);
  }

  /**
   * Runs `command argv...` as root inside the node (its namespaces, chrooted), with a clean
   * environment like `sudo` gives, bounded by coreutils `timeout` inside and a kill outside.
   */
  async execArgv(argv: readonly string[], opts: { stdin?: string; timeoutSec?: number } = {}): Promise<RunResult> {
    const t = opts.timeoutSec ?? 300;
    const r = await sh(
      "nsenter",
      ["-t", String(this.nsPid), "-m", "-u", "-i", "-n", "-p", "--", "chroot", this.root, "/usr/bin/env", "-i", `PATH=${PATH_ENV}`, "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash", "LANG=C.UTF-8", "/usr/bin/timeout", "--kill-after=10", String(t), ...argv],
      { input: opts.stdin, timeoutMs: (t + 30) * 1000 },
    );
    // 124: coreutils timeout stopped the command; 137: it had to SIGKILL it.
    return r.code === 124 || r.code === 137 ? { ...r, timedOut: true } : r;
  }

  /**
   * Runs a node script exactly as composed (shebang + header + body) with `bash -c`, as remoteBash does.
   * With KUBEADM_SANDBOX_LOGS=<dir>, every run's output is also written there (for reading by a person).
   */
  async run(script: string, opts: { stdin?: string; timeoutSec?: number; label?: string } = {}): Promise<RunResult> {
    const r = await this.execArgv(["/bin/bash", "-c", script], opts);
    const logs = process.env.KUBEADM_SANDBOX_LOGS;
    if (logs) {
      fs.mkdirSync(logs, { recursive: true });
      const label = opts.label ?? (/generated by kubeadm-cluster from scripts\/node\/(\S+)\.sh/.exec(script)?.[1] ?? "script");
      const file = path.join(logs, `${this.name}-${label}-${++this.runs}.log`);
      fs.writeFileSync(file, `# exit ${r.code} after ${r.ms} ms\n# --- stdout ---\n${r.stdout}\n# --- stderr ---\n${r.stderr}`);
    }
    return r;
  }
  private runs = 0;

  /** A shell one-liner inside the node (for probes: sysctl, apt-mark, dpkg-query, containerd). */
  exec(cmd: string, timeoutSec = 60): Promise<RunResult> {
    return this.execArgv(["/bin/bash", "-c", cmd], { timeoutSec });
  }

  /** Reads a file of the node from the host side (undefined when absent). */
  read(p: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.root, p), "utf8");
    } catch {
      return undefined;
    }
  }

  exists(p: string): boolean {
    return fs.existsSync(path.join(this.root, p));
  }

  /** Lines a stand-in recorded (systemctl, kubeadm, hostnamectl, ...). */
  calls(tool: string): string[] {
    return (this.read(`${S.LOG_DIR}/${tool}.log`) ?? "").split("\n").filter((l) => l !== "");
  }

  /** Forgets recorded calls (between two runs of a script). */
  clearCalls(): void {
    const dir = path.join(this.root, S.LOG_DIR.slice(1));
    for (const f of fs.readdirSync(dir)) if (f.endsWith(".log")) fs.rmSync(path.join(dir, f));
  }

  /**
   * Digest of every file, symlink and directory under the given node paths: path -> sha256 of (mode,
   * content or link target or entry names, and for files the modification time, so a file rewritten
   * with identical content also counts as changed). Paths in `exclude` (prefixes) are skipped.
   */
  digest(paths: readonly string[], exclude: readonly string[] = []): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      if (exclude.some((e) => rel === e || rel.startsWith(`${e}/`))) return;
      const abs = path.join(this.root, rel);
      const st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (!st) return;
      const h = crypto.createHash("sha256").update(`${st.mode}:`);
      if (st.isSymbolicLink()) h.update(`link:${fs.readlinkSync(abs)}`);
      else if (st.isFile()) h.update(`mtime:${st.mtimeMs}:`).update(fs.readFileSync(abs));
      else if (st.isDirectory()) {
        const names = fs.readdirSync(abs).sort();
        h.update(`dir:${names.join("/")}`);
        for (const n of names) walk(`${rel}/${n}`);
      }
      out.set(rel, h.digest("hex"));
    };
    for (const p of paths) walk(p);
    return out;
  }

  /** The PID of the node's namespace init process (for nsenter and `ip link ... netns`). */
  get namespacePid(): number {
    return this.nsPid;
  }

  /** Ends the node's namespaces (killing anything a script left running) and removes its root. */
  async destroy(keep = process.env.KUBEADM_SANDBOX_KEEP === "1"): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const gone = new Promise<void>((r) => this.holder.once("exit", () => r()));
      this.holder.kill("SIGKILL"); // --kill-child takes the namespace's PID 1 (and so all in it) down
      await gone;
    }
    if (!keep) await sh("rm", ["-rf", "--one-file-system", this.root]);
  }
}

/**
 * A LAN between sandbox nodes: a bridge in a network namespace of its own (the "switch"), and per node a
 * veth pair whose one end is a port of the bridge and whose other end is created directly inside the
 * node's network namespace, with the node's address. Nothing is created in the test host's network
 * namespace (every `ip` command runs inside the switch's or the node's), and the switch has no route
 * anywhere: traffic stays between the nodes. Used for real VRRP (keepalived) and haproxy between control
 * planes.
 */
export class SandboxLan {
  private ports = 0;
  private constructor(
    private readonly holder: ChildProcess,
    private readonly pid: number,
  ) {}

  static async create(): Promise<SandboxLan> {
    const holder = await startHolder(["--net", "--fork", "--kill-child", "bash", "-c", "set -e; ip link set lo up; ip link add br0 type bridge; ip link set br0 up; echo ready; exec sleep 3600"], "sandbox LAN: setup");
    const pid = childOf(holder.pid ?? -1);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error("sandbox LAN: no namespace process");
    return new SandboxLan(holder, pid);
  }

  /** Plugs `node` in: interface `ifname` inside the node with `cidr` (e.g. "192.168.56.11/24"), up. */
  async attach(node: SandboxNode, ifname: string, cidr: string): Promise<void> {
    const port = `port${++this.ports}`;
    const inSwitch = (...args: string[]) => sh("nsenter", ["-t", String(this.pid), "-n", ...args]);
    for (const args of [
      ["ip", "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", String(node.namespacePid)],
      ["ip", "link", "set", port, "master", "br0"],
      ["ip", "link", "set", port, "up"],
    ]) {
      const r = await inSwitch(...args);
      if (r.code !== 0) throw new Error(`sandbox LAN: ${args.join(" ")} failed: ${r.stderr}`);
    }
    const r = await node.exec(`ip addr add ${cidr} dev ${ifname} && ip link set ${ifname} up`);
    if (r.code !== 0) throw new Error(`sandbox LAN: addressing ${ifname} in ${node.name} failed: ${r.stderr}`);
  }

  async destroy(): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const gone = new Promise<void>((r) => this.holder.once("exit", () => r()));
      this.holder.kill("SIGKILL");
      await gone;
    }
  }
}

/**
 * A fresh shared "API server state" for one sandbox cluster (a host folder every node of the cluster
 * mounts at /srv/api; test/sandbox/standins.ts says who reads and writes what in it).
 */
export function makeApiState(workDir: string, cluster: string): string {
  const dir = path.join(workDir, `api-${cluster}`);
  fs.mkdirSync(path.join(dir, "nodes"), { recursive: true });
  fs.mkdirSync(path.join(dir, "pods"), { recursive: true });
  fs.writeFileSync(path.join(dir, ".sandbox-api"), "");
  return dir;
}

/** Adds a Pod to a sandbox cluster's API state (owner "" = a bare Pod; "DaemonSet", "ReplicaSet", ...). */
export function addPod(apiDir: string, ns: string, name: string, node: string, owner = "", mirror = ""): void {
  fs.mkdirSync(path.join(apiDir, "pods", ns), { recursive: true });
  fs.writeFileSync(path.join(apiDir, "pods", ns, name), `node=${node}\nowner=${owner}\nmirror=${mirror}\n`);
}

/** Names of entries whose digest differs between two digests (added, removed or changed). */
export function diffDigests(a: Map<string, string>, b: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) changed.push(b.has(k) ? `changed ${k}` : `removed ${k}`);
  for (const k of b.keys()) if (!a.has(k)) changed.push(`added ${k}`);
  return changed.sort();
}

/** The composed script with one header variable changed (the line must exist exactly once), e.g. a shorter wait. */
export function withHeader(script: string, name: string, value: string): string {
  const line = new RegExp(`^${name}='[^']*'$`, "gm");
  const found = script.match(line)?.length ?? 0;
  if (found !== 1) throw new Error(`withHeader: ${name} is in the header ${found} times, not once`);
  return script.replace(line, `${name}='${value}'`);
}

/**
 * Starts `unshare ARGS` (a process that holds namespaces open and prints "ready" once set up), tracked
 * for cleanup; resolves when it is ready, rejects with `what` and its stderr if it exits or takes 30 s.
 */
async function startHolder(args: string[], what: string): Promise<ChildProcess> {
  const holder = spawn("unshare", args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(holder);
  holder.on("exit", () => live.delete(holder));
  let err = "";
  holder.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out: ${err}`)), 30_000);
    holder.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    holder.on("exit", (c) => {
      clearTimeout(t);
      reject(new Error(`${what} failed (exit ${c}): ${err}`));
    });
  });
  return holder;
}
