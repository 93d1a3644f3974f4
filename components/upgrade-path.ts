// Which Kubernetes version changes `pulumi up` performs on a running cluster, and what each one
// involves. Pure; the node scripts apply the same rule to the version they read on the node
// (scripts/node/lib/versions.sh, held to this file by test/upgrade-path.test.ts).
//
// kubeadm's own policy (cmd/kubeadm/app/phases/upgrade/policy.go EnforceVersionPolicies, notes in
// upgrade-ha-facts.md A2): one minor at a time ("kubeadm can upgrade only 1 minor version at a time"),
// no downgrade of the minor, and the target no newer than kubeadm itself. We refuse the same cases
// earlier, before any node is touched, with the installed version and the path in the message.
import { ParsedVersion, kubeadmApiVersion, metricsServerVersion, needsExplicitCriTools, parseKubernetesVersion, pauseTag } from "./versions";

export type UpgradeKind = "none" | "patch" | "minor";

export type UpgradeCheck = { readonly ok: true; readonly kind: UpgradeKind } | { readonly ok: false; readonly message: string };

/** "1.30.12" from "v1.30.12", "1.30.12-1.1" or "1.30.12"; undefined when it is not a full version. */
export function installedVersion(text: string): { minor: number; patch: number; raw: string } | undefined {
  const m = /^v?1\.(\d{1,2})\.(\d{1,3})(?:-\S*)?$/.exec(text.trim());
  if (!m) return undefined;
  return { minor: Number(m[1]), patch: Number(m[2]), raw: `1.${Number(m[1])}.${Number(m[2])}` };
}

/**
 * May a node (or cluster) at `installed` ("1.30.12") go to `target` (kubernetes.version, "1.31.6" or
 * minor-only "1.31" = newest patch)? `where` names what runs `installed` in the message, e.g.
 * "the control plane k8s-control".
 */
export function checkUpgradePath(installed: string, target: ParsedVersion, where = "the cluster"): UpgradeCheck {
  const from = installedVersion(installed);
  if (!from) throw new Error(`internal: installed version ${JSON.stringify(installed)} is not x.y.z`);
  const to = target.raw;
  if (target.minor < from.minor || (target.minor === from.minor && target.patch !== undefined && target.patch < from.patch)) {
    return {
      ok: false,
      message:
        `kubernetes.version ${to} is older than ${from.raw}, which ${where} runs: kubeadm cannot downgrade a cluster. ` +
        `Set kubernetes.version back to ${from.raw} (or newer); to run ${to}, destroy and recreate the cluster.`,
    };
  }
  if (target.minor > from.minor + 1) {
    const path = [];
    for (let m = from.minor + 1; m <= target.minor; m++) path.push(`1.${m}`);
    return {
      ok: false,
      message:
        `kubernetes.version ${to} skips ${path.slice(0, -1).map((m) => `${m}`).join(", ")}: ${where} runs ${from.raw} and kubeadm upgrades one minor at a time. ` +
        `Set kubernetes.version to 1.${from.minor + 1}.x, run pulumi up, then the next minor (${path.join(" -> ")}).`,
    };
  }
  if (target.minor === from.minor + 1) return { ok: true, kind: "minor" };
  if (target.patch === undefined || target.patch > from.patch) return { ok: true, kind: target.patch === undefined ? "none" : "patch" };
  return { ok: true, kind: "none" };
}

/** One thing that follows the version, before and after. */
export interface VersionedChange {
  readonly what: string;
  readonly from: string;
  readonly to: string;
}

export interface UpgradePlan {
  readonly from: string;
  readonly to: string;
  readonly kind: UpgradeKind;
  /** Ordered phases, as `pulumi up` runs them (control plane, then workers in batches). */
  readonly phases: readonly string[];
  /** Everything that changes with the version (pause image, kubeadm config API, metrics-server, cri-tools). */
  readonly changes: readonly VersionedChange[];
}

/**
 * The upgrade `pulumi up` performs for a version edit from `fromText` (what the cluster runs, "1.30.12")
 * to `toText` (the new kubernetes.version). Throws with the refusal message for a skip or a downgrade.
 */
export function upgradePlan(fromText: string, toText: string): UpgradePlan {
  const to = parseKubernetesVersion(toText);
  if (!to) throw new Error(`kubernetes.version ${JSON.stringify(toText)} is not a version like 1.31 or 1.31.6`);
  const from = installedVersion(fromText);
  if (!from) throw new Error(`--upgrade-from ${JSON.stringify(fromText)} is not a full version like 1.30.12`);
  const check = checkUpgradePath(from.raw, to);
  if (!check.ok) throw new Error(check.message);
  const changes: VersionedChange[] = [];
  const add = (what: string, a: string, b: string) => {
    if (a !== b) changes.push({ what, from: a, to: b });
  };
  add("kubeadm config API (configs written for later joins)", kubeadmApiVersion(from.minor), kubeadmApiVersion(to.minor));
  add("containerd sandbox (pause) image tag", pauseTag(from.minor), pauseTag(to.minor));
  add("metrics-server", metricsServerVersion(from.minor), metricsServerVersion(to.minor));
  add(
    "cri-tools",
    needsExplicitCriTools(from.minor) ? "installed explicitly" : "pulled in by kubeadm",
    needsExplicitCriTools(to.minor) ? "installed explicitly" : "pulled in by kubeadm",
  );
  const target = to.raw;
  const phases =
    check.kind === "none"
      ? []
      : [
          `every node: apt repository v${to.minorVersion}, containerd sandbox image, images for ${target} pulled ahead (prep)`,
          `control plane: kubeadm ${target} installed (held), kubeadm upgrade plan, kubeadm upgrade apply -y v${target}; drain, kubelet and kubectl ${target}, kubelet restarted, uncordon`,
          `each worker, one batch at a time (kubernetes.upgradeBatchSize): drain (on the control plane), kubeadm ${target} + kubeadm upgrade node, kubelet and kubectl ${target}, kubelet restarted, Ready at ${target}, uncordon`,
          "then add-ons whose version follows the minor (metrics-server) roll",
        ];
  return { from: from.raw, to: target, kind: check.kind, phases, changes };
}

/**
 * Workers in upgrade batches of `size`, in node order: batch i+1 starts when every worker of batch i is
 * Ready at the new version and uncordoned (kubeadm's docs upgrade workers "one by one or a few at a
 * time, without compromising the minimum required capacity").
 */
export function upgradeBatches<T>(workers: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`internal: upgrade batch size ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < workers.length; i += size) out.push(workers.slice(i, i + size));
  return out;
}
