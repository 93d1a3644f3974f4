// SSH host keys are pinned in every connection the program makes (issue 13): every remote.Command's
// connection and every cleanup the runner (scripts/remote/ssh-run.js) runs carries the key of the
// machine it talks to, for all three machine providers: VirtualBox (the key vbox.js reports for the VM
// it created from the plan's seed), Aliyun (the key installed by the instance's user data) and existing
// hosts (nodes[].hostKey). A command that runs on the control plane for a worker pins the control
// plane's key.
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, defaultMockState, mockCommandStdout, unwrapSecrets } from "./harness";
import { aliyunState, stackConfig } from "./program-helpers";
import type { VboxPlan } from "../components/machines/virtualbox-plan";

type Obj = Record<string, unknown>;

async function program(stack: string, config: Record<string, string>, state?: (a: pulumi.runtime.MockResourceArgs) => Obj | undefined): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh module registry per program run
    const h = require("./program-helpers") as typeof import("./program-helpers");
    out = (await h.runProgram(stack, { config, ...(state ? { state } : {}) })).resources.filter((r) => r.custom);
  });
  return out;
}

/** The VM commands answer like vbox.js for a VM it created: the UUID, then the host key from the plan. */
function vboxLike(a: pulumi.runtime.MockResourceArgs): Obj | undefined {
  if (a.type !== "command:local:Command" || !a.name.endsWith("-vm")) return aliyunState(a);
  const inputs = unwrapSecrets(a.inputs) as Obj;
  const plan = JSON.parse(String(inputs.stdin)) as VboxPlan;
  return { ...inputs, stdout: `${mockCommandStdout(a.name)}\nhostkey ${plan.hostKey}\n`, stderr: "" };
}

/** Every SSH target of the program: remote commands' connections and the runner's jobs. */
function targets(rs: RecordedResource[]): { name: string; host: string; hostKey?: string }[] {
  const out: { name: string; host: string; hostKey?: string }[] = [];
  for (const r of rs) {
    if (r.type === "command:remote:Command") {
      const c = r.inputs.connection as Obj;
      out.push({ name: r.name, host: String(c.host), hostKey: c.hostKey as string | undefined });
    } else if (r.type === "command:local:Command" && JSON.stringify(r.inputs.interpreter ?? "").includes("remote/ssh-run.js")) {
      const j = JSON.parse(String(r.inputs.stdin)) as Obj;
      out.push({ name: r.name, host: String(j.host), hostKey: j.hostKey as string | undefined });
    }
  }
  return out;
}

function expectPinned(rs: RecordedResource[], keyOf: (host: string) => string | undefined): void {
  const t = targets(rs);
  expect(t.length).toBeGreaterThan(10);
  for (const x of t) {
    const want = keyOf(x.host);
    expect({ name: x.name, host: x.host, pinned: x.hostKey }).toEqual({ name: x.name, host: x.host, pinned: want });
    expect(x.hostKey).toMatch(/^ecdsa-sha2-nistp256 AAAA/);
  }
}

test("VirtualBox: every connection pins the ECDSA key the VM's seed installed", async () => {
  const rs = await program("dev", stackConfig("dev"), vboxLike);
  const keyByIp = new Map<string, string>();
  for (const vm of rs.filter((r) => r.name.endsWith("-vm"))) {
    const plan = JSON.parse(String(vm.inputs.stdin)) as VboxPlan & { nodeIp?: string };
    const ip = (plan as unknown as { identity: { nodeIp: string } }).identity?.nodeIp ?? plan.nodeIp;
    keyByIp.set(String(ip), plan.hostKey as string);
  }
  expect(keyByIp.size).toBe(2);
  expectPinned(rs, (h) => keyByIp.get(h));
});

test("Aliyun: every connection pins the key the instance's user data installed (tagged with its fingerprint)", async () => {
  // Each instance its own public IP, as the cloud would assign.
  const ips: Record<string, string> = { "kubeadm-k8s-master-ecs": "198.51.100.10", "kubeadm-k8s-worker-ecs": "198.51.100.20" };
  const state = (a: pulumi.runtime.MockResourceArgs): Obj | undefined => {
    const base = aliyunState(a);
    return a.type === "alicloud:ecs/instance:Instance" ? { ...base, publicIp: ips[a.name] } : base;
  };
  const rs = await program("aliyun", stackConfig("aliyun"), state);
  const keyOfNode = (node: string): string => {
    const k = rs.find((r) => r.name === `kubeadm-${node}-host-key`) as RecordedResource;
    expect(k.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    return String(defaultMockState({ type: k.type, name: k.name, inputs: k.inputs } as never).publicKeyOpenssh).trim();
  };
  const byIp: Record<string, string> = { "198.51.100.10": keyOfNode("k8s-master"), "198.51.100.20": keyOfNode("k8s-worker") };
  expect(byIp["198.51.100.10"]).not.toBe(byIp["198.51.100.20"]);
  expectPinned(rs, (h) => byIp[h]);
}, 60_000);

test("existing hosts: nodes[].hostKey is pinned for that host; a worker's steps that run on the control plane pin the control plane's", async () => {
  const cpKey = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCONTROLPLANE";
  const wKey = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBWORKERKEY";
  const config = {
    provider: "existing",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n",
    nodes: JSON.stringify([
      { name: "cp", role: "control-plane", ip: "10.30.0.10", hostKey: cpKey },
      { name: "w1", role: "worker", ip: "10.30.0.11", hostKey: `w1.example.org ${wKey}` },
    ]),
    kubernetes: JSON.stringify({ version: "1.30.12" }),
  };
  const rs = await program("dev", config);
  expectPinned(rs, (h) => (h === "10.30.0.10" ? cpKey : h === "10.30.0.11" ? wKey : undefined));
  // The worker's token and drain run on the control plane: its key, not the worker's.
  const t = targets(rs);
  expect(t.find((x) => x.name === "kubeadm-w1-token")?.hostKey).toBe(cpKey);
  expect(t.find((x) => x.name === "kubeadm-w1-drain")?.hostKey).toBe(cpKey);
  expect(t.find((x) => x.name === "kubeadm-w1-reset")?.hostKey).toBe(wKey);
});
