// The real program (index.ts) on the dev stack, under mocks: the whole graph a user's `pulumi up` makes.
import * as pulumi from "@pulumi/pulumi";
import { runProgram } from "./program-helpers";
import { RecordedResource, dependsTransitively, valueOf, byName } from "./harness";

let resources: RecordedResource[];
let outputs: Record<string, unknown>;

beforeAll(async () => {
  ({ resources, outputs } = await runProgram("dev"));
});

const k8sObjects = () => resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"));

test("every Kubernetes object goes through the provider built from the kubeconfig output", () => {
  const objs = k8sObjects();
  expect(objs.length).toBeGreaterThan(15);
  for (const o of objs) expect({ name: o.name, provider: o.provider }).toEqual({ name: o.name, provider: "kubeadm-k8s" });
  const providers = resources.filter((r) => r.type === "pulumi:providers:kubernetes");
  expect(providers.map((p) => p.name)).toEqual(["kubeadm-k8s"]);
  expect(providers[0].secretInputs).toContain("kubeconfig");
});

test("order: VM -> prep -> init -> join -> provider -> add-ons -> demo", () => {
  expect(dependsTransitively(resources, "kubeadm-k8s-control-prep", "kubeadm-k8s-control-vm")).toBe(true);
  expect(dependsTransitively(resources, "kubeadm-k8s-worker-prep", "kubeadm-k8s-worker-vm")).toBe(true);
  expect(dependsTransitively(resources, "kubeadm-k8s-control-init", "kubeadm-k8s-control-prep")).toBe(true);
  expect(dependsTransitively(resources, "kubeadm-k8s-worker-join", "kubeadm-k8s-worker-prep")).toBe(true);
  expect(dependsTransitively(resources, "kubeadm-k8s-worker-join", "kubeadm-k8s-control-init")).toBe(true);
  // prep of different nodes never waits on each other
  expect(dependsTransitively(resources, "kubeadm-k8s-worker-prep", "kubeadm-k8s-control-prep")).toBe(false);
  expect(dependsTransitively(resources, "kubeadm-k8s-control-prep", "kubeadm-k8s-worker-prep")).toBe(false);
  const provider = byName(resources, "kubeadm-k8s");
  expect(dependsTransitively(resources, provider.name, "kubeadm-k8s-worker-join")).toBe(true);
});

test("destroy deletes Kubernetes objects before any node is reset (they depend on every join)", () => {
  // The engine orders a resource after its provider (and deletes it before), so the provider is an edge too.
  const withProvider = resources.map((r) => ({ ...r, dependsOn: r.provider ? [...r.dependsOn, r.provider] : r.dependsOn }));
  for (const o of k8sObjects()) {
    expect(dependsTransitively(withProvider, o.name, "kubeadm-k8s-worker-join")).toBe(true);
    expect(dependsTransitively(withProvider, o.name, "kubeadm-k8s-control-init")).toBe(true);
  }
});

test("the demo waits for flannel and metrics-server", () => {
  const demo = k8sObjects().filter((r) => r.parent === "kubeadm-demo");
  expect(demo.length).toBeGreaterThanOrEqual(4);
  for (const d of demo) {
    expect(d.dependsOn.some((n) => n.includes("kube-flannel-ds"))).toBe(true);
    expect(d.dependsOn.some((n) => n.startsWith("kubeadm-metrics-server-"))).toBe(true);
  }
});

test("stack outputs: kubeconfig and generated SSH key are secret; nodes and endpoint are plain", async () => {
  expect(await pulumi.isSecret(outputs.kubeconfig as pulumi.Output<string>)).toBe(true);
  expect(await pulumi.isSecret(outputs.sshPrivateKey as pulumi.Output<string>)).toBe(true);
  expect(await valueOf(outputs.apiEndpoint as pulumi.Output<string>)).toBe("https://192.168.56.10:6443");
  const nodes = await valueOf(pulumi.output(outputs.nodes as pulumi.Input<unknown[]>));
  expect(nodes).toEqual([
    expect.objectContaining({ name: "k8s-control", role: "control-plane", ip: "192.168.56.10", sshHost: "192.168.56.10", sshUser: "ubuntu" }),
    expect.objectContaining({ name: "k8s-worker", role: "worker", ip: "192.168.56.20", sshHost: "192.168.56.20", sshUser: "ubuntu" }),
  ]);
  expect(String(outputs.kubectlHint)).toContain("--show-secrets");
  const kc = await valueOf(outputs.kubeconfig as pulumi.Output<string>);
  expect(kc).toContain("server: https://192.168.56.10:6443");
});

test("no secret value (generated key, token) appears in any plain input", async () => {
  const key = await valueOf(outputs.sshPrivateKey as pulumi.Output<string>);
  const tokenParts = resources.filter((r) => r.type.startsWith("random:")).map((r) => r.name);
  expect(tokenParts.length).toBeGreaterThan(0);
  for (const r of resources) {
    for (const [k, v] of Object.entries(r.inputs)) {
      if (r.secretInputs.includes(k)) continue;
      expect({ res: r.name, key: k, leaked: JSON.stringify(v).includes(key.trim().split("\n")[1] ?? "@@") }).toEqual({ res: r.name, key: k, leaked: false });
    }
  }
});
