// docs/lifecycle.md, row by row: the real program (index.ts) runs twice under mocks, before and after a
// day-2 change, and the rule model (tools/render-lib/transition.ts, each rule citing its provider source)
// says what `pulumi up` then does to every resource. Machines the change rebuilds get a new identity in
// the second run (a new VM UUID or instance id; a new CA hash for a new cluster), as they would.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { RecordedResource, fakeHex } from "./harness";
import { aliyunCalls, aliyunState, stackConfig } from "./program-helpers";
import { Action, byAction, planTransition } from "./lifecycle/rules";

type Obj = Record<string, unknown>;
type MockState = (a: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | undefined;

interface Run {
  readonly stack: string;
  readonly config: Record<string, string>;
  readonly state?: MockState;
  readonly images?: string;
}

async function program(run: Run): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    const image = run.images;
    const call = (token: string, inputs: Obj) =>
      image && token === "alicloud:ecs/getImages:getImages" ? { images: [{ id: image, name: image }], ids: [image] } : aliyunCalls(token);
    out = (await h.runProgram(run.stack, { config: run.config, state: run.state ?? aliyunState, call: call as never })).resources;
  });
  return out;
}

/** A stack file's config with one structured key edited. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed stack config: any JSON shape, edited by each row
type Config = Record<string, any>;

function edit(stack: string, mutate: (c: Config) => void): Record<string, string> {
  const parsed: Config = {};
  for (const [k, v] of Object.entries(stackConfig(stack))) {
    try {
      parsed[k] = JSON.parse(v) as Obj;
    } catch {
      parsed[k] = v;
    }
  }
  mutate(parsed);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Mock state where the named machines are new (a rebuilt VM has a new UUID; a new ECS instance a new id). */
function rebuilt(machines: readonly string[], newCluster = false): MockState {
  return (a) => {
    const base = aliyunState(a);
    if (a.type === "command:local:Command" && machines.some((m) => a.name === `kubeadm-${m}-vm`)) {
      const h = fakeHex(`rebuilt:${a.name}`, 32);
      return { ...a.inputs, stdout: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`, stderr: "" };
    }
    if (newCluster && a.type === "command:remote:Command" && a.name.endsWith("-ca-hash")) return { ...a.inputs, stdout: fakeHex("a new cluster CA"), stderr: "" };
    return base;
  };
}

async function transition(before: Run, after: Run): Promise<Record<Action, string[]>> {
  return byAction(planTransition(await program(before), await program(after)));
}

const dev = (over: Partial<Run> = {}): Run => ({ stack: "dev", config: stackConfig("dev"), ...over });
const aliyun = (over: Partial<Run> = {}): Run => ({ stack: "aliyun", config: stackConfig("aliyun"), ...over });
const ha = (over: Partial<Run> = {}): Run => ({ stack: "ha", config: stackConfig("ha"), ...over });

/** The node lifecycle of one node (what is set up anew when its machine is new). */
const lifecycleOf = (node: string, role: "control-plane" | "worker"): string[] =>
  (role === "control-plane"
    ? ["ssh-ready", "version-check", "hosts", "prep", "init", "reset", "upgrade", "ca-hash", "approve-serving-cert", "kubeconfig"]
    : ["ssh-ready", "hosts", "prep", "token", "join", "reset", "drain", "node-object", "approve-serving-cert", "upgrade-drain", "upgrade", "upgrade-uncordon"]
  ).map((s) => `kubeadm-${node}-${s}`);

const ROWS: string[] = [];
/** Registers a scenario id; docs/lifecycle.md must have a row for each (checked at the end). */
function row(id: string): string {
  ROWS.push(id);
  return `[${id}] `;
}

describe("docs/lifecycle.md rows, held to the providers' rules", () => {
  test(`${row("noop")}a second \`up\` with no change: nothing is created, updated, replaced or deleted`, async () => {
    for (const s of [dev(), aliyun()]) {
      const p = await transition(s, s);
      expect({ ...p, same: [] }).toEqual({ create: [], delete: [], update: [], replace: [], same: [] });
    }
  });

  test(`${row("ssh-tunables")}ssh.connectTimeoutSeconds: only the boot-wait commands update; nothing else re-runs`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => (c.ssh = { connectTimeoutSeconds: 1200 })) }));
    expect(p.update).toEqual(["kubeadm-k8s-control-ssh-ready", "kubeadm-k8s-worker-ssh-ready"]);
    expect([...p.replace, ...p.create, ...p.delete]).toEqual([]);
  });

  test(`${row("vboxmanage-path")}virtualbox.vboxManage (where the tool lives): the VM commands update (no rebuild), nothing else`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => ((c.virtualbox as Obj).vboxManage = "/opt/vbox/VBoxManage")) }));
    expect(p.update).toEqual(["kubeadm-k8s-control-vm", "kubeadm-k8s-worker-vm"]);
    expect([...p.replace, ...p.create, ...p.delete]).toEqual([]);
  });

  test(`${row("worker-size")}a worker's size: its VM updates and is rebuilt (new UUID): that node's lifecycle is replaced, nothing else`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => ((c.virtualbox as Obj).worker = { cpus: 4, memoryMb: 4096, diskGb: 20 })), state: rebuilt(["k8s-worker"]) }));
    expect(p.update).toEqual(["kubeadm-k8s-worker-vm"]);
    expect(p.replace).toEqual(lifecycleOf("k8s-worker", "worker").sort());
    expect([...p.create, ...p.delete]).toEqual([]);
  });

  test(`${row("cp-rebuilt")}the control-plane machine rebuilt (new UUID, new CA): every node step re-runs and every Kubernetes object is replaced into the new cluster`, async () => {
    const before = await program(dev());
    const p = byAction(planTransition(before, await program(dev({ config: edit("dev", (c) => ((c.virtualbox as Obj).controlPlane = { cpus: 4, memoryMb: 8192, diskGb: 40 })), state: rebuilt(["k8s-control"], true) }))));
    const objects = before.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers")).map((r) => r.name);
    expect(objects.length).toBeGreaterThan(15);
    expect(p.replace).toEqual(expect.arrayContaining([...lifecycleOf("k8s-control", "control-plane"), ...objects]));
    // The worker's machine stays; it is reset and joined to the new cluster (its triggers carry the CA hash).
    expect(p.replace).toEqual(expect.arrayContaining(["kubeadm-k8s-worker-join", "kubeadm-k8s-worker-reset", "kubeadm-k8s-worker-token"]));
    expect(p.replace).not.toContain("kubeadm-k8s-worker-prep");
    // The provider keeps its identity: updated with the new kubeconfig, not replaced (objects go through replaceWith).
    expect(p.replace).not.toContain("kubeadm-k8s");
    expect(p.delete).toEqual([]);
  });

  test(`${row("add-worker")}adding a worker: its machine and steps are created; every node's /etc/hosts block and the approver's node list update`, async () => {
    const p = await transition(
      dev(),
      dev({ config: edit("dev", (c) => (c.nodes = [...(c.nodes as Obj[]), { name: "k8s-worker2", role: "worker", ip: "192.168.56.21" }])) }),
    );
    expect(p.create).toEqual(expect.arrayContaining(["kubeadm-k8s-worker2-vm", ...lifecycleOf("k8s-worker2", "worker")]));
    expect(p.update).toEqual(["kubeadm-k8s-control-hosts", "kubeadm-k8s-worker-hosts", "kubeadm-kubelet-csr-approver-deploy-kubelet-csr-approver"]);
    expect([...p.replace, ...p.delete]).toEqual([]);
  });

  test(`${row("remove-worker")}removing a worker: its steps and machine are deleted (drain and reset run first); the others' /etc/hosts update`, async () => {
    const two = edit("dev", (c) => (c.nodes = [...(c.nodes as Obj[]), { name: "k8s-worker2", role: "worker", ip: "192.168.56.21" }]));
    const p = await transition(dev({ config: two }), dev());
    expect(p.delete).toEqual(expect.arrayContaining(["kubeadm-k8s-worker2-vm", "kubeadm-k8s-worker2-drain", "kubeadm-k8s-worker2-reset", "kubeadm-k8s-worker2-join"]));
    expect(p.update).toEqual(["kubeadm-k8s-control-hosts", "kubeadm-k8s-worker-hosts", "kubeadm-kubelet-csr-approver-deploy-kubelet-csr-approver"]);
    expect(p.replace).toEqual([]);
  });

  test(`${row("mirrors")}mirrors.profile default -> china: node prep re-runs (containerd mirrors), init's config updates, add-on images roll`, async () => {
    const p = await transition(
      dev(),
      dev({
        config: edit("dev", (c) => {
          c.mirrors = { profile: "china" };
          c.demo = { fileserverImage: "registry.cn-hangzhou.aliyuncs.com/ns/fileserver:latest", downloaderImage: "registry.cn-hangzhou.aliyuncs.com/ns/downloader:latest" };
          c.kubeletCsrApprover = { image: "registry.cn-hangzhou.aliyuncs.com/ns/kubelet-csr-approver:v1.2.15" };
        }),
      }),
    );
    expect(p.update).toEqual(expect.arrayContaining(["kubeadm-k8s-control-prep", "kubeadm-k8s-worker-prep", "kubeadm-k8s-control-init", "kubeadm-flannel-ds-kube-flannel-ds", "kubeadm-metrics-server-deploy-metrics-server"]));
    expect([...p.replace, ...p.delete]).toEqual([]);
  });

  test(`${row("addon-switch")}demo.enabled false: the demo's objects are deleted, nothing else changes`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => (c.demo = { enabled: false })) }));
    expect(p.delete).toEqual(["kubeadm-demo-deploy-test-deployment", "kubeadm-demo-hpa-test-hpa", "kubeadm-demo-pod-testpod", "kubeadm-demo-svc-test-service"]);
    expect([...p.update, ...p.replace, ...p.create]).toEqual([]);
  });

  test(`${row("k8s-minor")}kubernetes.version to the next minor: the upgrade path updates in order (check, prep, control plane, then each worker); nothing is replaced, nothing resets`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => ((c.kubernetes as Obj).version = "1.31.6")) }));
    expect(p.update).toEqual(
      [
        "kubeadm-k8s-control-version-check",
        "kubeadm-k8s-control-prep",
        "kubeadm-k8s-worker-prep",
        "kubeadm-k8s-control-init",
        "kubeadm-k8s-control-upgrade",
        "kubeadm-k8s-control-kubeconfig",
        "kubeadm-k8s-worker-join",
        "kubeadm-k8s-worker-upgrade-drain",
        "kubeadm-k8s-worker-upgrade",
        "kubeadm-k8s-worker-upgrade-uncordon",
        // metrics-server follows the minor (v0.7.2 -> v0.8.1), after the control plane's upgrade.
        "kubeadm-metrics-server-deploy-metrics-server",
        "kubeadm-metrics-server-svc-metrics-server",
      ].sort(),
    );
    expect([...p.replace, ...p.create, ...p.delete]).toEqual([]);
  });

  test(`${row("k8s-patch")}kubernetes.version to a newer patch: the same steps as a minor, add-ons stay`, async () => {
    const p = await transition(dev(), dev({ config: edit("dev", (c) => ((c.kubernetes as Obj).version = "1.30.13")) }));
    expect(p.update).toEqual(expect.arrayContaining(["kubeadm-k8s-control-upgrade", "kubeadm-k8s-worker-upgrade", "kubeadm-k8s-control-version-check"]));
    expect(p.update.filter((n) => !/-k8s-(control|worker)-/.test(n))).toEqual([]);
    expect([...p.replace, ...p.create, ...p.delete]).toEqual([]);
  });

  test(`${row("cert-renewal")}kubernetes.certificateRenewal set, then changed: the renewal runs on the control plane, the kubeconfig is read again and the provider takes it; nothing else re-runs`, async () => {
    const label = (l: string) => edit("dev", (c) => ((c.kubernetes as Obj).certificateRenewal = l));
    const first = await transition(dev(), dev({ config: label("2027-06") }));
    expect(first.create).toEqual(["kubeadm-k8s-control-renew-certs"]);
    expect(first.replace).toEqual(["kubeadm-k8s-control-kubeconfig"]);
    // The Kubernetes provider takes the renewed kubeconfig as an update (same clusterIdentifier): no object moves.
    expect(first.update).toEqual(["kubeadm-k8s"]);
    expect(first.delete).toEqual([]);
    const next = await transition(dev({ config: label("2027-06") }), dev({ config: label("2028-05") }));
    expect(next.replace).toEqual(["kubeadm-k8s-control-kubeconfig", "kubeadm-k8s-control-renew-certs"]);
    expect(next.update).toEqual(["kubeadm-k8s"]);
    expect([...next.create, ...next.delete]).toEqual([]);
  });

  test(`${row("ha-add-cp")}HA: two more control planes (3 -> 5): their machines and steps are created; every control plane's keepalived/haproxy files, every /etc/hosts and the version check update; no join re-runs`, async () => {
    const five = edit("ha", (c) => {
      const nodes = c.nodes as Obj[];
      c.nodes = [...nodes.slice(0, 3), { name: "k8s-cp-4", role: "control-plane", ip: "192.168.56.14" }, { name: "k8s-cp-5", role: "control-plane", ip: "192.168.56.15" }, ...nodes.slice(3)];
    });
    const p = await transition(ha(), ha({ config: five }));
    expect(p.create).toEqual(expect.arrayContaining(["kubeadm-k8s-cp-4-vm", "kubeadm-k8s-cp-4-upload-certs", "kubeadm-k8s-cp-4-join", "kubeadm-k8s-cp-5-join"]));
    expect(p.update).toEqual(
      expect.arrayContaining(["kubeadm-k8s-cp-1-vip", "kubeadm-k8s-cp-2-vip", "kubeadm-k8s-cp-3-vip", "kubeadm-k8s-cp-1-version-check", "kubeadm-k8s-worker-1-hosts"]),
    );
    expect(p.update.filter((n) => /-(join|init|prep|token|upload-certs)$/.test(n))).toEqual([]);
    expect([...p.replace, ...p.delete]).toEqual([]);
  });

  test(`${row("ha-cert-renewal")}HA: kubernetes.certificateRenewal set, changed, removed: cp-1's renewal is created/replaced, the other control planes' renewals are updated (update-only); no join or upgrade re-runs`, async () => {
    const label = (l?: string) =>
      edit("ha", (c) => {
        if (l === undefined) delete (c.kubernetes as Obj).certificateRenewal;
        else (c.kubernetes as Obj).certificateRenewal = l;
      });
    const members = ["kubeadm-k8s-cp-2-renew-certs", "kubeadm-k8s-cp-3-renew-certs"];
    const set = await transition(ha(), ha({ config: label("2027-06") }));
    expect(set.create).toEqual(["kubeadm-k8s-cp-1-renew-certs"]);
    expect(set.update).toEqual(expect.arrayContaining(members));
    expect(set.update.filter((n) => /-(join|init|prep|token|upload-certs|upgrade.*)$/.test(n))).toEqual([]);
    expect(set.replace).toEqual(["kubeadm-k8s-cp-1-kubeconfig"]);
    const changed = await transition(ha({ config: label("2027-06") }), ha({ config: label("2028-05") }));
    expect(changed.replace).toEqual(["kubeadm-k8s-cp-1-kubeconfig", "kubeadm-k8s-cp-1-renew-certs"]);
    expect(changed.update).toEqual(expect.arrayContaining(members));
    // Removed: cp-1's step is deleted (no delete command), the others' update runs `true`.
    const removed = await transition(ha({ config: label("2028-05") }), ha());
    expect(removed.delete).toEqual(["kubeadm-k8s-cp-1-renew-certs"]);
    expect(removed.update).toEqual(expect.arrayContaining(members));
  });

  test(`${row("ha-remove-cp")}HA: a control plane removed (5 -> 3): its steps and machine are deleted (drain on the first control plane, then reset, which removes its etcd member); the others' keepalived/haproxy files update`, async () => {
    const five = edit("ha", (c) => {
      const nodes = c.nodes as Obj[];
      c.nodes = [...nodes.slice(0, 3), { name: "k8s-cp-4", role: "control-plane", ip: "192.168.56.14" }, { name: "k8s-cp-5", role: "control-plane", ip: "192.168.56.15" }, ...nodes.slice(3)];
    });
    const p = await transition(ha({ config: five }), ha());
    expect(p.delete).toEqual(expect.arrayContaining(["kubeadm-k8s-cp-5-vm", "kubeadm-k8s-cp-5-drain", "kubeadm-k8s-cp-5-reset", "kubeadm-k8s-cp-5-join"]));
    expect(p.update).toEqual(expect.arrayContaining(["kubeadm-k8s-cp-1-vip", "kubeadm-k8s-cp-1-version-check"]));
    expect(p.replace).toEqual([]);
  });

  test(`${row("aliyun-new-image")}Aliyun publishes a newer Ubuntu image: nothing changes (the image is resolved once and kept)`, async () => {
    const p = await transition(aliyun(), aliyun({ images: "ubuntu_22_04_x64_20G_alibase_20270101.vhd" }));
    expect({ ...p, same: [] }).toEqual({ create: [], delete: [], update: [], replace: [], same: [] });
  });

  test(`${row("aliyun-pinned-image")}aliyun.imageId changed on purpose: the instances are replaced (old first) and every node is set up anew`, async () => {
    const withImage = (id: string) => edit("aliyun", (c) => ((c.aliyun as Obj).imageId = id));
    const newIds: MockState = (a) => (a.type === "alicloud:ecs/instance:Instance" ? { ...aliyunState(a), id: undefined } : aliyunState(a));
    const before = await program(aliyun({ config: withImage("ubuntu_22_04_x64_20G_alibase_20260522.vhd") }));
    const after = await program(aliyun({ config: withImage("ubuntu_22_04_x64_20G_alibase_20270101.vhd"), state: newIds }));
    const p = byAction(planTransition(before, after));
    expect(p.replace).toEqual(expect.arrayContaining(["kubeadm-k8s-master-ecs", "kubeadm-k8s-worker-ecs"]));
    for (const r of after.filter((x) => x.type === "alicloud:ecs/instance:Instance")) expect(r.deleteBeforeReplace).toBe(true);
  });

  test(`${row("aliyun-zone")}the zone a data source picked changes with stock: the vSwitch stays (resolved once and kept)`, async () => {
    const zones = (id: string) => (token: string) => (token === "alicloud:index/getZones:getZones" ? { zones: [{ id }], ids: [id] } : aliyunCalls(token));
    let a: RecordedResource[] = [];
    let b: RecordedResource[] = [];
    for (const [zone, set] of [["cn-hangzhou-i", (r: RecordedResource[]) => (a = r)], ["cn-hangzhou-k", (r: RecordedResource[]) => (b = r)]] as const) {
      await jest.isolateModulesAsync(async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry
        const h = require("./program-helpers") as typeof import("./program-helpers");
        set((await h.runProgram("aliyun", { call: zones(zone) as never })).resources);
      });
    }
    expect(byAction(planTransition(a, b)).replace).toEqual([]);
    expect(byAction(planTransition(a, b)).update).toEqual([]);
  });

  test(`${row("token-ttl")}${row("hour-later")}the token's TTL passing or an hour passing changes nothing in the graph (the scripts handle it when they run: test/sandbox-rerun.test.ts)`, async () => {
    const p = await transition(dev(), dev());
    expect([...p.update, ...p.replace]).toEqual([]);
  });
});

describe("destroy and refresh rows (options the engine and the providers act on)", () => {
  let recs: RecordedResource[];
  beforeAll(async () => {
    recs = await program(dev());
  });

  test(`${row("refresh-off")}the Kubernetes provider does not set deleteUnreachable, so \`refresh\` with the machines off keeps every object`, () => {
    const provider = recs.find((r) => r.type === "pulumi:providers:kubernetes");
    expect(provider?.inputs).not.toHaveProperty("deleteUnreachable");
  });

  test(`${row("destroy")}${row("destroy-all-gone")}destroy: objects go with the cluster (no API call), node cleanups are skipped for VMs being deleted`, () => {
    for (const o of recs.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"))) {
      expect({ name: o.name, deletedWith: o.deletedWith, replaceWith: o.replaceWith, dbr: o.deleteBeforeReplace }).toEqual({
        name: o.name,
        deletedWith: "kubeadm-k8s-control-init",
        replaceWith: ["kubeadm-k8s-control-init"],
        dbr: true,
      });
    }
    expect(recs.find((r) => r.name === "kubeadm-k8s-worker-reset")?.deletedWith).toBe("kubeadm-k8s-worker-vm");
    expect(recs.find((r) => r.name === "kubeadm-k8s-control-reset")?.deletedWith).toBe("kubeadm-k8s-control-vm");
  });

  test(`${row("destroy-worker-gone")}every node-side delete goes through the runner, which skips a host that does not answer (test/ssh-run.test.ts)`, () => {
    const deletes = recs.filter((r) => r.custom && r.inputs.delete !== undefined && r.type.startsWith("command:"));
    for (const r of deletes) {
      const viaRunner = JSON.stringify(r.inputs.interpreter ?? "").includes("remote/ssh-run.js");
      const vbox = JSON.stringify(r.inputs.interpreter ?? "").includes("vm/vbox.js");
      expect({ name: r.name, ok: viaRunner || vbox }).toEqual({ name: r.name, ok: true });
    }
  });
});

test("docs/lifecycle.md has a row for every scenario this file checks", () => {
  const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "lifecycle.md"), "utf8");
  const missing = ROWS.filter((id) => !doc.includes(`[${id}]`));
  expect(missing).toEqual([]);
});
