// Can this machine run the sandbox? The sandbox needs root (mount/unshare/chroot), the cached Debian
// root made by `npm run sandbox:prepare`, apt-ftparchive and gpg to build the signed repos, and nsenter
// to re-enter a node's namespaces. A plain developer `npm test` without them skips with the reason;
// CI (CI=true) must fail instead, so a broken CI image is never mistaken for a pass.
import { spawnSync } from "child_process";
import * as fs from "fs";
import { baseCacheReady } from "./cache";

export interface Prereqs {
  readonly ok: boolean;
  /** Why the sandbox cannot run here (empty when ok). */
  readonly reasons: readonly string[];
}

function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

/** Checks tools and privileges; the Debian mirror is only needed when the cache is empty. */
export function checkPrereqs(): Prereqs {
  const reasons: string[] = [];
  if (process.platform !== "linux") reasons.push(`needs Linux (this is ${process.platform})`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) reasons.push("needs root (mount namespaces, chroot, dpkg)");
  for (const tool of ["unshare", "nsenter", "chroot", "tar", "gpg", "dpkg-deb", "apt-ftparchive", "ip"]) {
    if (!onPath(tool)) reasons.push(`missing tool: ${tool}`);
  }
  if (!baseCacheReady()) {
    // Tests never download: the Debian root and packages come from `npm run sandbox:prepare`.
    reasons.push(
      "no cached Debian root: run `npm run sandbox:prepare` once (debootstrap downloads Debian 12 packages; needs root, debootstrap and the Debian mirror)",
    );
  }
  if (reasons.length === 0) {
    // Some containers forbid unshare(CLONE_NEWNS|CLONE_NEWNET) even for root.
    const r = spawnSync("unshare", ["--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "true"], { stdio: "ignore" });
    if (r.status !== 0) reasons.push("unshare of mount/uts/ipc/net/pid namespaces is not permitted here");
    // prep.sh needs br_netfilter; the sandbox has no module files, so the host kernel must have it
    // (built in, or loaded) for it to show up in a new network namespace, as on a real node.
    else if (spawnSync("unshare", ["--net", "test", "-e", "/proc/sys/net/bridge/bridge-nf-call-iptables"]).status !== 0) {
      reasons.push("the host kernel has no br_netfilter (load it with `modprobe br_netfilter`): prep.sh would rightly fail on it");
    }
  }
  if (!fs.existsSync("/proc/self/ns/net")) reasons.push("no /proc/self/ns (namespaces unsupported)");
  return { ok: reasons.length === 0, reasons };
}

/** True in CI, where a missing prerequisite is a failure, not a skip. */
export function inCi(): boolean {
  const v = (process.env.CI ?? "").toLowerCase();
  return v !== "" && v !== "0" && v !== "false";
}

/**
 * Decides how a sandbox test file runs: `run` = go; otherwise the caller skips (developer machine)
 * or fails (CI). Prints the reason once so a skipped plain `npm test` says why.
 */
export function sandboxGate(fileLabel: string): { run: boolean; failReason?: string } {
  const p = checkPrereqs();
  if (p.ok) return { run: true };
  const why = `${fileLabel}: sandbox prerequisites missing: ${p.reasons.join("; ")}`;
  if (inCi()) return { run: false, failReason: why };
  console.warn(`SKIPPED ${why}. Install debootstrap, gnupg, apt-utils and run as root (see docs/sandbox.md).`);
  return { run: false };
}
