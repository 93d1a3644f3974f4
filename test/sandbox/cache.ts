// The Debian root every sandbox node starts from, made once with debootstrap and cached as a tarball
// (about 40 s the first time, then a ~2 s extract per node). The same build step pre-downloads the
// Debian packages the node scripts install (containerd, runc, ...) so that inside the sandbox, whose
// network namespace has no network at all, apt installs them from a local signed repository.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const SUITE = "bookworm";
export const MIRROR = process.env.KUBEADM_SANDBOX_MIRROR ?? "http://deb.debian.org/debian";

/**
 * Preinstalled in the root: what an Ubuntu 22.04 server/cloud image already has and the scripts use
 * without installing (curl + gpg fetch the apt key, procps = sysctl, kmod = modprobe, iproute2, iptables
 * for reset, ca-certificates). minbase lacks them.
 */
export const ROOT_INCLUDE: readonly string[] = ["ca-certificates", "curl", "gpg", "procps", "kmod", "iproute2", "iptables", "openssl"];

/**
 * Downloaded (not installed) into the local Debian repository: what the scripts may `apt-get install`.
 * Dependencies and recommends are resolved by apt at build time against the root above. keepalived and
 * haproxy: vip.sh installs them on the control planes of an HA cluster (docs/ha.md); the sandbox runs
 * Debian 12's real ones (keepalived 2.2.7, haproxy 2.6).
 */
export const DEBIAN_DOWNLOADS: readonly string[] = ["containerd", "runc", "apt-transport-https", "socat", "conntrack", "ebtables", "ethtool", "ipset", "ipvsadm", "gpg", "keepalived", "haproxy"];

const REPO_ROOT = path.resolve(__dirname, "..", "..");

export function cacheDir(): string {
  const base = process.env.KUBEADM_SANDBOX_CACHE ?? path.join(REPO_ROOT, "node_modules", ".cache", "kubeadm-sandbox");
  // The key changes whenever what goes into the root changes, so a stale cache is never reused.
  const key = crypto.createHash("sha256").update(JSON.stringify([SUITE, ROOT_INCLUDE, DEBIAN_DOWNLOADS, 2])).digest("hex").slice(0, 12);
  return path.join(base, `${SUITE}-${key}`);
}

export interface BaseCache {
  /** Tarball of the fresh debootstrap root (numeric owners). */
  readonly rootTar: string;
  /** Folder of .deb files for the local Debian repository. */
  readonly debsDir: string;
}

function paths(dir: string): BaseCache {
  return { rootTar: path.join(dir, "rootfs.tar"), debsDir: path.join(dir, "debs") };
}

export function baseCacheReady(): boolean {
  const p = paths(cacheDir());
  return fs.existsSync(p.rootTar) && fs.existsSync(path.join(p.debsDir, "Packages"));
}

function run(cmd: string, args: readonly string[], timeoutMs: number, what: string): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`sandbox cache: ${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Returns the cache, building it if needed. Jest may run several sandbox files in parallel workers,
 * so the build is guarded by a lock directory; the loser waits for the winner.
 */
export function ensureBaseCache(): BaseCache {
  const dir = cacheDir();
  if (baseCacheReady()) return paths(dir);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Another worker builds; a lock older than 10 minutes is from a killed run.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`sandbox cache: timed out waiting for ${lock}`);
      sleepMs(1000);
      if (baseCacheReady()) return paths(dir);
    }
  }
  try {
    if (!baseCacheReady()) buildBaseCache(dir);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  return paths(dir);
}

/**
 * A folder for short-lived roots: tmpfs (/dev/shm) when it has room, else the OS temp folder. A root
 * is ~400 MB of small files; on a busy 2-core VM's disk extracting or deleting one took up to 15 s,
 * in memory 0.3 s.
 */
export function fastTmpBase(): string {
  try {
    const st = fs.statfsSync("/dev/shm");
    if (st.bavail * st.bsize > 4 * 1024 ** 3) return "/dev/shm";
  } catch {
    // no /dev/shm
  }
  return os.tmpdir();
}

function buildBaseCache(dir: string): void {
  const tmp = `${dir}.build-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  // debootstrap writes ~7000 files: do it in memory, keep only the tarball.
  const rootParent = fs.mkdtempSync(path.join(fastTmpBase(), "kubeadm-sandbox-build-"));
  const root = path.join(rootParent, "root");
  try {
    // One retry: a mirror hiccup should not fail a test run.
    const deb = ["--variant=minbase", `--include=${ROOT_INCLUDE.join(",")}`, SUITE, root, MIRROR];
    try {
      run("debootstrap", deb, 300_000, "debootstrap");
    } catch {
      fs.rmSync(root, { recursive: true, force: true });
      run("debootstrap", deb, 300_000, "debootstrap (retry)");
    }
    // Download (not install) the packages the scripts install, in a private mount namespace so the
    // /proc mount the chroot needs never shows on the host.
    const debs = path.join(tmp, "debs");
    fs.mkdirSync(debs);
    const inner = [
      "set -euo pipefail",
      'R="$1"; shift',
      'mount -t proc proc "$R/proc"',
      'cp /etc/resolv.conf "$R/etc/resolv.conf"',
      'mkdir -p "$R/var/cache/sandbox-debs/partial"',
      'chroot "$R" apt-get -q update',
      'chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --download-only -o Dir::Cache::archives=/var/cache/sandbox-debs "$@"',
      'chroot "$R" apt-get clean',
      'rm -rf "$R"/var/lib/apt/lists/* "$R/etc/resolv.conf"',
    ].join("\n");
    run("unshare", ["--mount", "--fork", "bash", "-c", inner, "sandbox-cache", root, ...DEBIAN_DOWNLOADS], 300_000, "download of Debian packages");
    const cached = path.join(root, "var", "cache", "sandbox-debs");
    for (const f of fs.readdirSync(cached)) if (f.endsWith(".deb")) fs.copyFileSync(path.join(cached, f), path.join(debs, f)); // may cross filesystems
    fs.rmSync(cached, { recursive: true, force: true });
    // Packages index now (it depends only on the .debs); Release is signed per run with a fresh key.
    const idx = spawnSync("apt-ftparchive", ["packages", "."], { cwd: debs, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (idx.status !== 0) throw new Error(`sandbox cache: apt-ftparchive packages failed: ${idx.stderr}`);
    fs.writeFileSync(path.join(debs, "Packages"), idx.stdout);
    run("tar", ["--numeric-owner", "-C", root, "-cf", path.join(tmp, "rootfs.tar"), "."], 300_000, "tar of the root");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    // Older caches (another package list) are dead weight of ~200 MB each.
    const parent = path.dirname(dir);
    for (const f of fs.readdirSync(parent)) {
      if (f.startsWith(`${SUITE}-`) && /^[a-z]+-[0-9a-f]{12}$/.test(f) && path.join(parent, f) !== dir) fs.rmSync(path.join(parent, f), { recursive: true, force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    fs.rmSync(rootParent, { recursive: true, force: true });
  }
}
