// The upgrade path in the graph (issue 16), under mocks with the real cluster component: the version
// check precedes every prep; the control plane's upgrade precedes every worker's; workers go one batch
// after another (kubernetes.upgradeBatchSize); token and join wait for the control plane's upgrade, so a
// worker added during an upgrade joins the upgraded control plane; the upgrade steps run only on update
// (nothing on create) and are never replaced by a version edit.
import { RecordedResource, dependsTransitively } from "./harness";
import type { KubeadmClusterArgs } from "../components/cluster/args";

const nodes = (workers: number): KubeadmClusterArgs["nodes"] => [
  { name: "cp", role: "control-plane", ip: "10.10.0.10" },
  ...Array.from({ length: workers }, (_, i) => ({ name: `w${i + 1}`, role: "worker" as const, ip: `10.10.0.${11 + i}` })),
];

const args = (workers: number, kubernetes: Partial<KubeadmClusterArgs["kubernetes"]> = {}): KubeadmClusterArgs => ({
  provider: "existing",
  nodes: nodes(workers),
  kubernetes: { version: "1.30.12", ...kubernetes },
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n",
});

async function cluster(a: KubeadmClusterArgs): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry per program
    const h = require("./harness") as typeof import("./harness");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- same registry as the harness
    const { KubeadmCluster } = require("../components") as typeof import("../components");
    out = (await h.runMocked({ config: {}, stack: "lab" }, () => new KubeadmCluster("lab", a))).resources;
  });
  return out.filter((r) => r.custom);
}

const after = (rs: RecordedResource[], a: string, b: string) => dependsTransitively(rs, `lab-${a}`, `lab-${b}`);

describe("order of a version upgrade, one worker at a time (default)", () => {
  let rs: RecordedResource[];
  beforeAll(async () => {
    rs = await cluster(args(3));
  });

  test("every node's prep waits for the version check on the control plane; the hosts step does not", () => {
    for (const n of ["cp", "w1", "w2", "w3"]) {
      expect({ n, after: after(rs, `${n}-prep`, "cp-version-check") }).toEqual({ n, after: true });
      expect({ n, after: after(rs, `${n}-hosts`, "cp-version-check") }).toEqual({ n, after: false });
    }
  });

  test("control plane: prep -> init -> upgrade -> kubeconfig (read again after the upgrade)", () => {
    expect(after(rs, "cp-upgrade", "cp-init")).toBe(true);
    expect(after(rs, "cp-upgrade", "cp-prep")).toBe(true);
    expect(after(rs, "cp-kubeconfig", "cp-upgrade")).toBe(true);
    expect(String(rs.find((r) => r.name === "lab-cp-kubeconfig")?.inputs.create)).toMatch(/# kubernetes 1\.30\.12$/);
  });

  test("workers: cp upgrade -> w1 drain -> w1 upgrade -> w1 uncordon -> w2 drain -> ... -> w3 uncordon", () => {
    const chain = ["cp-upgrade", ...["w1", "w2", "w3"].flatMap((w) => [`${w}-upgrade-drain`, `${w}-upgrade`, `${w}-upgrade-uncordon`])];
    for (let i = 1; i < chain.length; i++) expect({ step: chain[i], after: after(rs, chain[i], chain[i - 1]) }).toEqual({ step: chain[i], after: true });
    // ... and not the other way round (w1 never waits for w2).
    expect(after(rs, "w1-upgrade-drain", "w2-upgrade-uncordon")).toBe(false);
  });

  test("drain and uncordon run on the control plane, the upgrade on the worker", () => {
    const host = (n: string) => (rs.find((r) => r.name === `lab-${n}`)?.inputs.connection as { host: string }).host;
    expect(host("w2-upgrade-drain")).toBe("10.10.0.10");
    expect(host("w2-upgrade-uncordon")).toBe("10.10.0.10");
    expect(host("w2-upgrade")).toBe("10.10.0.12");
  });

  test("joins wait for the control plane's upgrade (a worker added mid-upgrade joins the upgraded control plane)", () => {
    for (const w of ["w1", "w2", "w3"]) {
      expect(after(rs, `${w}-token`, "cp-upgrade")).toBe(true);
      expect(after(rs, `${w}-join`, "cp-upgrade")).toBe(true);
    }
  });

  test("the upgrade steps run nothing on create (a new cluster is already at its version) and are never replaced by a version edit", () => {
    const steps = rs.filter((r) => /-upgrade(-drain|-uncordon)?$/.test(r.name));
    expect(steps.map((r) => r.name).sort()).toEqual(["lab-cp-upgrade", ...["w1", "w2", "w3"].flatMap((w) => [`lab-${w}-upgrade`, `lab-${w}-upgrade-drain`, `lab-${w}-upgrade-uncordon`])].sort());
    for (const r of steps) {
      expect({ name: r.name, create: r.inputs.create, delete: r.inputs.delete }).toEqual({ name: r.name, create: undefined, delete: undefined });
      expect(String(r.inputs.update)).toMatch(/^sudo -n timeout --kill-after=30 \d+ bash -c /);
      // The triggers carry the machine and the cluster, never the version.
      expect(JSON.stringify(r.inputs.triggers)).not.toContain("1.30");
    }
  });

  test("add-ons wait for the last node's upgrade (they roll on an upgraded cluster; creating the steps costs nothing)", () => {
    const provider = rs.find((r) => r.type === "pulumi:providers:kubernetes") as RecordedResource;
    expect(after(rs, provider.name.replace(/^lab-/, ""), "w3-upgrade-uncordon")).toBe(true);
  });
});

test("kubernetes.upgradeBatchSize 2: w1 and w2 together, then w3 after both", async () => {
  const rs = await cluster(args(3, { upgradeBatchSize: 2 }));
  expect(after(rs, "w1-upgrade-drain", "cp-upgrade")).toBe(true);
  expect(after(rs, "w2-upgrade-drain", "cp-upgrade")).toBe(true);
  expect(after(rs, "w2-upgrade-drain", "w1-upgrade-uncordon")).toBe(false);
  expect(after(rs, "w1-upgrade-drain", "w2-upgrade-uncordon")).toBe(false);
  expect(after(rs, "w3-upgrade-drain", "w1-upgrade-uncordon")).toBe(true);
  expect(after(rs, "w3-upgrade-drain", "w2-upgrade-uncordon")).toBe(true);
});

test("a version edit changes the upgrade steps' scripts (so the engine updates them) and nothing's triggers", async () => {
  const before = await cluster(args(2));
  const next = await cluster(args(2, { version: "1.31.6" }));
  const byName = new Map(before.map((r) => [r.name, r]));
  for (const r of next.filter((x) => x.type.startsWith("command:"))) {
    const old = byName.get(r.name);
    expect({ name: r.name, triggers: r.inputs.triggers }).toEqual({ name: r.name, triggers: old?.inputs.triggers });
  }
  for (const n of ["cp-upgrade", "w1-upgrade", "w1-upgrade-drain", "w1-upgrade-uncordon", "w2-upgrade"]) {
    const r = next.find((x) => x.name === `lab-${n}`);
    expect({ n, changed: r?.inputs.update !== byName.get(`lab-${n}`)?.inputs.update }).toEqual({ n, changed: true });
  }
});
