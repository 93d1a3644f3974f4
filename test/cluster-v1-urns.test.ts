// A stack deployed by v0.1 (every resource at the top of the stack, no cluster component) must not be
// rebuilt by the KubeadmCluster shape: every URN it has in state is either produced again or named as
// an alias by the resource that takes its place. The fixtures were generated once from the v0.1 code
// (commit 156aa53) for the dev, aliyun and an existing-hosts stack, with the engine's URN format.
import * as fs from "fs";
import * as path from "path";
import { RecordedResource, engineUrn } from "./harness";
import { v1Name, v1TypeChain, CLUSTER_TYPE } from "../components/cluster/v1-urns";

const FIXTURES = path.join(__dirname, "fixtures", "v1-urns");

const EXISTING = {
  provider: "existing",
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
  nodes: JSON.stringify([
    { name: "cp", role: "control-plane", ip: "10.0.0.10" },
    { name: "w1", role: "worker", ip: "10.0.0.11" },
    { name: "w2", role: "worker", ip: "10.0.0.12" },
  ]),
  kubernetes: JSON.stringify({ version: "1.30.12" }),
};

async function run(stack: string): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    const opts = stack === "existing" ? { config: EXISTING, secretKeys: ["sshPrivateKey"] } : {};
    out = (await h.runProgram(stack === "existing" ? "dev" : stack, { ...opts, stack })).resources;
  });
  return out;
}

describe.each(["dev", "aliyun", "existing"])("stack %s deployed by v0.1", (stack) => {
  let recs: RecordedResource[];
  beforeAll(async () => {
    recs = await run(stack);
  });

  test("every v0.1 URN is produced again or aliased by exactly one resource", () => {
    const v1: string[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${stack}.json`), "utf8"));
    expect(v1.length).toBeGreaterThan(40);
    const produced = new Set(recs.map((r) => engineUrn(recs, r)));
    const aliasedBy = new Map<string, string[]>();
    for (const r of recs) for (const a of r.aliases) aliasedBy.set(a, [...(aliasedBy.get(a) ?? []), r.name]);
    const missing = v1.filter((u) => !produced.has(u) && !aliasedBy.has(u));
    expect(missing).toEqual([]);
    const ambiguous = [...aliasedBy.entries()].filter(([u, by]) => v1.includes(u) && by.length > 1);
    expect(ambiguous).toEqual([]);
  });

  test("the cluster component itself is new: it carries no alias, its children do", () => {
    const cluster = recs.filter((r) => r.type === CLUSTER_TYPE);
    expect(cluster.map((c) => [c.name, c.aliases])).toEqual([["kubeadm", []]]);
    for (const r of recs.filter((x) => x.parent === "kubeadm")) expect(r.aliases.length).toBe(1);
  });
});

describe("v1Name", () => {
  test("strips the cluster prefix, except where v0.1 already had it (the machines component and its own children)", () => {
    expect(v1Name("kubeadm", "kubeadm:node:Worker", "kubeadm-k8s-worker")).toBe("k8s-worker");
    expect(v1Name("kubeadm", "command:remote:Command", "kubeadm-k8s-worker-join")).toBe("k8s-worker-join");
    expect(v1Name("kubeadm", "pulumi:providers:kubernetes", "kubeadm-k8s")).toBe("k8s");
    expect(v1Name("kubeadm", "kubeadm:vm:AliyunMachines", "kubeadm-machines")).toBe("kubeadm-machines");
    expect(v1Name("kubeadm", "alicloud:vpc/network:Network", "kubeadm-machines-vpc")).toBe("kubeadm-machines-vpc");
    // A node that happens to be called "machines...": its VM was `machines-1-vm` in v0.1.
    expect(v1Name("kubeadm", "command:local:Command", "kubeadm-machines-1-vm")).toBe("machines-1-vm");
    expect(v1TypeChain([CLUSTER_TYPE, "kubeadm:node:Worker", "command:remote:Command"])).toEqual(["kubeadm:node:Worker", "command:remote:Command"]);
  });
});
