// VirtualBox machines under mocks: one `<cluster>-<node>-vm` local.Command per node, running scripts/vm/vbox.js
// without a shell, with the plan (identity, base VM, clone, seed with the host key) on a secret stdin,
// reconciled by `update` instead of replaced; a generated ECDSA host key per VM; and the Hosts.
import * as pulumi from "@pulumi/pulumi";
import { runMocked, byName, byType, valueOf, mockCommandStdout, defaultMockState, unwrapSecrets, RecordedResource } from "./harness";
import { devSpec, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, TEST_HOST_KEY } from "./fixtures";
import { provisionMachines } from "../components/machines";
import { Host } from "../components/machines/host";
import { vboxPlan, createSteps, VboxPlan } from "../components/machines/virtualbox-plan";
import { parseVmOutput } from "../components/machines/virtualbox";
import { localHelperInterpreter } from "../components/local-helper";

const spec = devSpec();
let resources: RecordedResource[];
let hosts: Host[];

/** The VM commands answer like vbox.js for a VM it created: the UUID, then the host key from the plan. */
function vboxLikeState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> | undefined {
  if (args.type !== "command:local:Command" || !args.name.endsWith("-vm")) return undefined;
  const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
  const plan = JSON.parse(String(inputs.stdin)) as VboxPlan;
  return { ...inputs, stdout: `${mockCommandStdout(args.name)}\nhostkey ${plan.hostKey}\n`, stderr: "" };
}

beforeAll(async () => {
  const run = await runMocked({ config: {}, state: vboxLikeState }, () =>
    provisionMachines(spec, { privateKey: pulumi.secret(TEST_PRIVATE_KEY), publicKey: TEST_PUBLIC_KEY }, {}),
  );
  resources = run.resources;
  hosts = run.value;
});

function planOf(node: string): VboxPlan {
  return JSON.parse(byName(resources, `kubeadm-${node}-vm`).inputs.stdin as string) as VboxPlan;
}

function modifyArgs(plan: VboxPlan): string[] {
  return plan.configure.flat();
}

/** What the mocked tls.PrivateKey gives the plan for a node's host key. */
function mockHostKey(node: string): { publicKey: string; privateKey: string } {
  const st = defaultMockState({ type: "tls:index/privateKey:PrivateKey", name: `kubeadm-${node}-host-key`, inputs: { algorithm: "ECDSA" } } as never) as Record<string, string>;
  return { publicKey: st.publicKeyOpenssh.trim(), privateKey: st.privateKeyOpenssh };
}

test("one VM command per node, under the VirtualBoxMachines component, running vbox.js with no shell", () => {
  const comp = byType(resources, "kubeadm:vm:VirtualBoxMachines");
  expect(comp).toHaveLength(1);
  const cmds = byType(resources, "command:local:Command");
  expect(cmds.map((c) => c.name).sort()).toEqual(["kubeadm-k8s-control-vm", "kubeadm-k8s-worker-vm"]);
  for (const c of cmds) {
    expect(c.parent).toBe(comp[0].name);
    // Through the loader: no absolute path in the state, so another checkout shows no diff.
    expect(c.inputs.interpreter).toEqual(localHelperInterpreter("vm/vbox.js"));
    expect(c.inputs.create).toBe("create");
    expect(c.inputs.update).toBe("update");
    expect(c.inputs.delete).toBe("delete");
    expect(c.inputs.addPreviousOutputInEnv).toBe(false);
  }
});

test("reconciled, never replaced by the engine: no replaceOnChanges and no triggers on the VM command", () => {
  // Adding either to a VM deployed by v0.1 would replace it (a new triggers/replaceOnChanges path is a change).
  for (const c of byType(resources, "command:local:Command")) {
    // The SDK adds `triggers[*]` to every Command (@pulumi/command local/command.js); with no triggers it
    // matches nothing. v0.1 also had "*" here: gone, so a changed plan is an update.
    expect(c.replaceOnChanges).toEqual(["triggers[*]"]);
    expect(c.inputs.triggers).toBeUndefined();
    // Only for an explicit `pulumi up --replace`: the old VM (same name and IP) goes first.
    expect(c.deleteBeforeReplace).toBe(true);
    expect(Number(c.customTimeouts!.create!.slice(0, -1))).toBeGreaterThan(spec.virtualbox!.bootTimeoutSeconds);
    expect(c.customTimeouts?.update).toBe(c.customTimeouts?.create);
    expect(c.customTimeouts?.delete).toBeDefined();
  }
});

test("stdin is a secret (it carries the VM's host private key) and is exactly the planner's output", () => {
  for (const node of spec.nodes) {
    const c = byName(resources, `kubeadm-${node.name}-vm`);
    expect(c.secretInputs).toContain("stdin");
    expect(planOf(node.name)).toEqual(vboxPlan(spec, node, TEST_PUBLIC_KEY, mockHostKey(node.name)));
    expect(c.inputs.stdin as string).toContain(mockHostKey(node.name).privateKey.split("\n")[1]);
  }
});

test("one ECDSA P-256 host key per VM, generated in the program (its private key secret in state)", () => {
  const keys = byType(resources, "tls:index/privateKey:PrivateKey");
  expect(keys.map((k) => k.name).sort()).toEqual(["kubeadm-k8s-control-host-key", "kubeadm-k8s-worker-host-key"]);
  for (const k of keys) {
    expect(k.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    expect(k.additionalSecretOutputs).toEqual(expect.arrayContaining(["privateKeyOpenssh"]));
    expect(k.parent).toBe("kubeadm-machines");
  }
  // The VM command waits for its own key only.
  expect(byName(resources, "kubeadm-k8s-worker-vm").dependsOn).toContain("kubeadm-k8s-worker-host-key");
  expect(byName(resources, "kubeadm-k8s-worker-vm").dependsOn).not.toContain("kubeadm-k8s-control-host-key");
});

test("the VM is a linked clone of the shared base made from the configured image; sizes follow the role", () => {
  const cp = planOf("k8s-control");
  const w = planOf("k8s-worker");
  expect(cp.base.create).toHaveLength(1);
  const [imp] = cp.base.create;
  expect(imp.slice(0, 2)).toEqual(["import", spec.virtualbox!.imagePath]);
  expect(imp).toContain(`--vmname=${cp.base.name}`);
  // VDI, because the image's VMDK cannot be resized to diskGb.
  expect(imp).toContain("--options=importtovdi");
  expect(cp.clone).toEqual(["clonevm", cp.base.name, "--snapshot=kubeadm-base", "--options=link", "--name=kubeadm-k8s-control", "--register"]);
  // Same image and disk size: both nodes share one base.
  expect(w.base).toEqual(cp.base);
  expect(modifyArgs(cp)).toEqual(expect.arrayContaining(["--cpus=2", "--memory=4096"]));
  expect(modifyArgs(w)).toEqual(expect.arrayContaining(["--cpus=2", "--memory=2048"]));
  expect(cp.base.diskMb).toBe(20 * 1024);
  expect(cp.start).toEqual(["startvm", "kubeadm-k8s-control", "--type", "headless"]);
});

test("NIC1 is NAT, NIC2 is host-only on the configured adapter, each with a fixed MAC", () => {
  for (const node of spec.nodes) {
    const args = modifyArgs(planOf(node.name));
    expect(args).toContain("--nic1=nat");
    expect(args).toContain("--nic2=hostonly");
    expect(args).toContain("--host-only-adapter2=vboxnet0");
    expect(args.some((a) => /^--mac-address1=[0-9A-F]{12}$/.test(a))).toBe(true);
    expect(args.some((a) => /^--mac-address2=[0-9A-F]{12}$/.test(a))).toBe(true);
    expect(args).toEqual(expect.arrayContaining(["--uart1", "0x3F8", "4", "--uart-mode1", "file"]));
  }
  // Different VMs never share a MAC on the host-only network.
  const mac2 = (n: string) => modifyArgs(planOf(n)).find((a) => a.startsWith("--mac-address2="));
  expect(mac2("k8s-control")).not.toBe(mac2("k8s-worker"));
});

test("the helper waits for SSH on the node IP, bounded by bootTimeoutSeconds", () => {
  expect(planOf("k8s-worker").waitForSsh).toEqual({ host: "192.168.56.20", port: 22, timeoutSeconds: spec.virtualbox!.bootTimeoutSeconds });
});

test("VMs are created in parallel: neither VM command depends on the other", () => {
  expect(byName(resources, "kubeadm-k8s-worker-vm").dependsOn).not.toContain("kubeadm-k8s-control-vm");
  expect(byName(resources, "kubeadm-k8s-control-vm").dependsOn).not.toContain("kubeadm-k8s-worker-vm");
});

test("the SSH private key never reaches the VM command", () => {
  for (const c of byType(resources, "command:local:Command")) expect(JSON.stringify(c.inputs)).not.toContain("TESTKEYDONOTUSE\n");
  expect(JSON.stringify(byName(resources, "kubeadm-k8s-control-vm").inputs)).toContain(TEST_PUBLIC_KEY);
});

test("stdout parsing: the UUID alone (v0.1 and adopted VMs: unpinned), or the UUID then the host key", () => {
  const uuid = "0F0E0D0C-0B0A-4908-8706-050403020100";
  expect(parseVmOutput(`${uuid}\n`)).toEqual({ uuid: uuid.toLowerCase(), hostKey: undefined });
  expect(parseVmOutput(`${uuid}\nhostkey ${TEST_HOST_KEY.publicKey}\n`)).toEqual({ uuid: uuid.toLowerCase(), hostKey: TEST_HOST_KEY.publicKey });
  expect(() => parseVmOutput("")).toThrow(/printed no VM UUID/);
  expect(() => parseVmOutput(`${uuid}\nhostkey ssh-rsa AAAA\n`)).toThrow(/not one "ecdsa-sha2-nistp256/);
});

test("Hosts come back in spec order: node IP = host-only IP, SSH to it, machineId = the VM UUID", async () => {
  expect(hosts.map((h) => h.name)).toEqual(["k8s-control", "k8s-worker"]);
  expect(hosts.map((h) => h.role)).toEqual(["control-plane", "worker"]);
  for (const [i, h] of hosts.entries()) {
    const node = spec.nodes[i];
    expect(h.nodeIp).toBe(node.ip);
    expect(await valueOf(h.connection.host)).toBe(node.ip);
    expect(h.connection.port).toBe(22);
    expect(h.connection.user).toBe("ubuntu");
    expect(await valueOf(h.connection.privateKey)).toBe(TEST_PRIVATE_KEY);
    expect(await pulumi.isSecret(pulumi.output(h.connection.privateKey))).toBe(true);
    expect(h.connection.dialErrorLimit).toBeGreaterThanOrEqual(10);
    // Exactly the UUID string, as v0.1 gave it (the node commands have it in their triggers).
    expect(await valueOf(h.machineId)).toBe(mockCommandStdout(`kubeadm-${node.name}-vm`));
    expect(await pulumi.isSecret(h.machineId)).toBe(false);
    expect(h.publicAddress).toBeUndefined();
    // The host key the program generated for this VM (and vbox.js reports the VM was created with).
    expect(await valueOf(h.hostKey)).toBe(mockHostKey(node.name).publicKey);
    expect(mockHostKey(node.name).publicKey).toMatch(/^ecdsa-sha2-nistp256 AAAA[^\s]+$/);
    expect(h.machine).toBeDefined();
    expect(await valueOf((h.machine as pulumi.CustomResource).urn)).toMatch(new RegExp(`::kubeadm-${node.name}-vm$`));
  }
});

test("the connection host waits for the VM (it resolves through the VM command's output)", async () => {
  // Any command using the connection then depends on the VM being up, even without triggers.
  const out = pulumi.output(hosts[0].connection.host);
  const deps = await (out as unknown as { resources(): Promise<Set<pulumi.Resource>> }).resources();
  expect([...deps]).toContain(hosts[0].machine);
});

test("planner errors name the setting: a qcow2 image, a node IP outside the host-only network", () => {
  expect(() => createSteps({ ...spec.virtualbox!, imagePath: "/img/jammy-server-cloudimg-amd64.img" }, "vm")).toThrow(/virtualbox.imagePath .*qcow2/);
  const outside = devSpec({ nodes: [{ name: "cp", role: "control-plane", ip: "10.0.2.15" }] });
  expect(() => vboxPlan(outside, outside.nodes[0], TEST_PUBLIC_KEY, TEST_HOST_KEY)).toThrow(/not inside the host-only network 192.168.56.0\/24/);
});
