// Per-step duration model for estimating how long `pulumi up` takes, versus doing the seed runbook by
// hand one step after another. Every number says where it comes from; change them here to match your
// machines and network (a mirror in China, a slow laptop, a fast cloud region) and re-run `npm run bench`.
//
// What is modelled: the time a resource's create takes from start to finish. What is not: Pulumi's own
// overhead (plugin start, state writes, a few seconds), the time a human needs to read, type and wait
// between steps in the manual runbook (which makes the manual figure optimistic).
import { RecordedResource } from "../test/harness";
import { isCommand } from "./render-lib/model";

export interface Duration {
  /** Seconds. */
  readonly seconds: number;
  /** Where the number comes from: a seed's log line, a public report, or "estimate: <reasoning>". */
  readonly source: string;
}

/** SSH connection set-up plus `sudo` for every remote command. */
export const SSH_OVERHEAD: Duration = { seconds: 1, source: "estimate: TCP + SSH handshake + sudo on a LAN, well under a second; rounded up" };

/**
 * The parts of creating one VirtualBox VM (scripts/vm/vbox.js), for `vm` below and docs/machines.md.
 * Not measured here (no VirtualBox on the build machines): estimates that say what they are made of.
 */
export const VBOX_PARTS = {
  baseImport: {
    seconds: 50,
    source:
      "estimate: `VBoxManage import --options=importtovdi` of the ~600 MB Ubuntu 22.04 .ova unpacks its compressed VMDK and writes a dynamic VDI of the guest's ~1-2 GB of data; disk-bound, 30 s - 2 min on a laptop SSD/HDD. Once per image and disk size on a host: every other VM, later `pulumi up` and other stack reuses the base",
  },
  snapshot: { seconds: 2, source: "estimate: `snapshot take` of a powered-off VM writes a settings file and one empty differencing VDI (man VBoxManage-snapshot)" },
  linkedClone: {
    seconds: 3,
    source: "estimate: `clonevm --options=link` writes a settings file and an empty differencing VDI (no data copied); VMs of one base take turns (one lock per base), so the n-th VM waits n-1 clones",
  },
  configure: { seconds: 5, source: "estimate: ~15 VBoxManage calls (0.1-0.3 s each: every call starts a client and talks to VBoxSVC) plus a 20 KB seed ISO" },
  boot: {
    seconds: 40,
    source: "estimate: kernel, systemd and cloud-init's early stages (network, user and key, host key, growpart/resize2fs) until sshd's banner answers; without the serial port it can stall for minutes",
  },
} as const;

/** Wall time until the last of `vms` VMs of one base answers SSH: one import, clones one at a time, boots in parallel. */
export function vboxVmsSeconds(vms: number, baseExists = false): number {
  const p = VBOX_PARTS;
  return (baseExists ? 0 : p.baseImport.seconds + p.snapshot.seconds) + vms * p.linkedClone.seconds + p.configure.seconds + p.boot.seconds;
}

/** Command steps, by the step part of `<node>-<step>`. */
export const STEP_DURATIONS: Readonly<Record<string, Duration>> = {
  vm: {
    seconds: vboxVmsSeconds(1),
    source:
      "estimate, the first VM of an image (VBOX_PARTS): import 50 + snapshot 2 + linked clone 3 + configure 5 + boot 40 s. The other VMs wait for that one import, then clone (3 s each, one at a time) and boot in parallel: n VMs take ~52 + 3n + 45 s, where v0.1 ran n imports at once on one disk",
  },
  hosts: { seconds: 2, source: "estimate: writes /etc/hosts" },
  prep: {
    seconds: 210,
    source:
      "estimate: apt-get update (~20 s) + containerd and kubelet/kubeadm/kubectl/kubernetes-cni/cri-tools (~150 MB of .debs, ~60 s at 20 Mbit/s) + containerd config and restart, modules, sysctls (~10 s) + image pre-pull (prep.sh pulls the control-plane images, ~200 MB, or a worker's kube-proxy/pause/flannel images: ~120 s at 20 Mbit/s, less on a worker); seed 000 §1.4 does the same by hand",
  },
  init: {
    seconds: 35,
    source:
      "seed 000 kubeadm init log: kubelet healthy after 0.5 s, API server healthy after 21.5 s; plus estimate ~12 s for the certs, kubeconfig, upload-config, bootstrap-token and addon phases (images were pre-pulled by prep)",
  },
  "ca-hash": { seconds: 1, source: "estimate: one openssl pipeline" },
  kubeconfig: { seconds: 1, source: "estimate: cat of admin.conf" },
  token: { seconds: 2, source: "estimate: one `kubeadm token create` against a running API server" },
  join: {
    seconds: 15,
    source: "estimate: kubeadm join preflight, discovery and TLS bootstrap until the kubelet is registered (images were pre-pulled by prep); the seed shows the worker Ready minutes later only because flannel was not yet applied",
  },
  "approve-serving-cert": { seconds: 15, source: "estimate: waits for each kubelet's serving CSR (kubelet requests it within seconds of start) and approves it" },
  "version-check": { seconds: 2, source: "estimate: no cluster yet on a first `up` (a file test); a few kubectl reads otherwise" },
  vip: { seconds: 30, source: "estimate: apt-get update + keepalived and haproxy (~2 MB of .debs), two config checks, two service starts" },
  "upload-certs": { seconds: 3, source: "estimate: one kubeadm phase writing a Secret" },
};

/** Kubernetes objects: creating most takes ~1 s; workloads are awaited until ready by the provider. */
export const KIND_DURATIONS: Readonly<Record<string, Duration>> = {
  DaemonSet: {
    seconds: 40,
    source: "estimate: the control plane pulls the flannel images (~30 MB; workers pre-pulled them in prep), init containers, ready; counted as awaited until rolled out (not verified for this provider version: if it is not awaited, this is 1 s)",
  },
  Deployment: {
    seconds: 60,
    source: "estimate: image pull + readiness; metrics-server's readiness probe starts after 20 s (initialDelaySeconds in the upstream manifest) and needs a scrape cycle (15 s metric resolution)",
  },
  Pod: { seconds: 30, source: "estimate: image pull + start; the provider waits for Ready" },
  HorizontalPodAutoscaler: { seconds: 2, source: "estimate: created immediately, not awaited" },
};
export const DEFAULT_K8S_OBJECT: Duration = { seconds: 1, source: "estimate: one API request" };

/** Cloud resources (Aliyun), by type token; VirtualBox VMs are local commands (`vm` above). */
export const CLOUD_DURATIONS: Readonly<Record<string, Duration>> = {
  "alicloud:ecs/instance:Instance": { seconds: 60, source: "estimate: ECS pay-as-you-go instance from a public image until Running plus boot to SSH" },
};
export const DEFAULT_OTHER: Duration = { seconds: 0, source: "no work outside Pulumi (random values, keys, providers, components)" };

/**
 * Step part of a command name, given the node names. Commands inside a KubeadmCluster are named
 * `<clusterName>-<node>-<step>`, so the node may follow a prefix ending in "-".
 */
export function stepOf(name: string, nodeNames: readonly string[]): string {
  let best: { at: number; node: string } | undefined;
  for (const n of nodeNames) {
    const at = name.startsWith(`${n}-`) ? 0 : name.includes(`-${n}-`) ? name.indexOf(`-${n}-`) + 1 : -1;
    if (at >= 0 && (!best || n.length > best.node.length)) best = { at, node: n };
  }
  return best ? name.slice(best.at + best.node.length + 1) : name;
}

export function durationOf(r: RecordedResource, nodeNames: readonly string[]): Duration {
  if (isCommand(r) && r.inputs.create === undefined) {
    return { seconds: 0, source: "no create command: nothing runs and nothing is dialed (pulumi-command Create returns early)" };
  }
  if (isCommand(r)) {
    const d = STEP_DURATIONS[stepOf(r.name, nodeNames)];
    const base = d ?? { seconds: 5, source: "estimate: an unmodelled command step" };
    return r.type === "command:remote:Command" ? { seconds: base.seconds + SSH_OVERHEAD.seconds, source: base.source } : base;
  }
  if (r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:yaml")) {
    const kind = String((r.inputs as Record<string, unknown>).kind ?? r.type.split(":").pop());
    return KIND_DURATIONS[kind] ?? DEFAULT_K8S_OBJECT;
  }
  return CLOUD_DURATIONS[r.type] ?? DEFAULT_OTHER;
}

export interface Estimate {
  /** Every modelled step done one after another (the seed runbooks' way). */
  readonly sequentialSeconds: number;
  /** Longest duration-weighted chain of the resource graph: `pulumi up` with its default unbounded --parallel. */
  readonly graphSeconds: number;
  /** The resources on that chain. */
  readonly graphPath: readonly string[];
}

/**
 * Estimates both durations from the recorded graph. Edges: dependsOn (explicit + data) and a
 * Kubernetes object's provider. Parallelism is unbounded (the Pulumi CLI default), which a real
 * VirtualBox host (CPU, disk) or a slow apt mirror shared by 50 nodes will not quite deliver.
 */
export function estimate(resources: readonly RecordedResource[], nodeNames: readonly string[]): Estimate {
  const byName = new Map<string, RecordedResource[]>();
  for (const r of resources) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const w = new Map<RecordedResource, number>(resources.map((r) => [r, durationOf(r, nodeNames).seconds]));
  const finish = new Map<RecordedResource, { t: number; prev?: RecordedResource }>();
  const visiting = new Set<RecordedResource>();
  const finishOf = (r: RecordedResource): { t: number; prev?: RecordedResource } => {
    const known = finish.get(r);
    if (known) return known;
    if (visiting.has(r)) return { t: 0 }; // no cycles in a Pulumi graph; be safe anyway
    visiting.add(r);
    let start = 0;
    let prev: RecordedResource | undefined;
    const deps = [...r.dependsOn, ...(r.provider ? [r.provider] : [])];
    for (const d of deps) {
      for (const p of byName.get(d) ?? []) {
        if (p === r) continue;
        const f = finishOf(p).t;
        if (f > start || (f === start && prev !== undefined && p.name < prev.name)) {
          start = f;
          prev = p;
        }
      }
    }
    visiting.delete(r);
    const res = { t: start + (w.get(r) ?? 0), prev };
    finish.set(r, res);
    return res;
  };
  let end: RecordedResource | undefined;
  for (const r of [...resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!end || finishOf(r).t > finishOf(end).t) end = r;
  }
  const graphPath: string[] = [];
  for (let cur = end; cur; cur = finish.get(cur)?.prev) if ((w.get(cur) ?? 0) > 0) graphPath.unshift(cur.name);
  let sequentialSeconds = 0;
  for (const v of w.values()) sequentialSeconds += v;
  return { sequentialSeconds, graphSeconds: end ? finishOf(end).t : 0, graphPath };
}
