// VirtualBox machines under mocks: one `<cluster>-<node>-vm` local.Command per node, running scripts/vm/vbox.js
// without a shell, with the plan (VBoxManage argument arrays, seed files) on stdin; and the Hosts.
import * as pulumi from "@pulumi/pulumi";
import { runMocked, byName, byType, valueOf, mockCommandStdout, RecordedResource } from "./harness";
import { devSpec, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";
import { provisionMachines } from "../components/machines";
import { Host } from "../components/machines/host";
import { vboxPlan, createSteps, VBOX_INTERPRETER, VboxPlan } from "../components/machines/virtualbox-plan";

const spec = devSpec();
let resources: RecordedResource[];
let hosts: Host[];

beforeAll(async () => {
  const run = await runMocked({ config: {} }, () =>
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

test("one VM command per node, under the VirtualBoxMachines component, running vbox.js with no shell", () => {
  const comp = byType(resources, "kubeadm:vm:VirtualBoxMachines");
  expect(comp).toHaveLength(1);
  const cmds = byType(resources, "command:local:Command");
  expect(cmds.map((c) => c.name).sort()).toEqual(["kubeadm-k8s-control-vm", "kubeadm-k8s-worker-vm"]);
  for (const c of cmds) {
    expect(c.parent).toBe(comp[0].name);
    expect(c.inputs.interpreter).toEqual(["node", "scripts/vm/vbox.js"]);
    expect(c.inputs.interpreter).toEqual([...VBOX_INTERPRETER]);
    expect(c.inputs.create).toBe("create");
    expect(c.inputs.delete).toBe("delete");
    expect(c.inputs.addPreviousOutputInEnv).toBe(false);
  }
});

test("the stdin plan is exactly the planner's output for that node (what vbox.js executes)", () => {
  for (const node of spec.nodes) expect(planOf(node.name)).toEqual(vboxPlan(spec, node, TEST_PUBLIC_KEY));
});

test("import uses the configured cloud image; sizes follow the node's role", () => {
  const cp = planOf("k8s-control");
  const w = planOf("k8s-worker");
  expect(cp.create).toHaveLength(1);
  const [imp] = cp.create;
  expect(imp.slice(0, 2)).toEqual(["import", spec.virtualbox!.imagePath]);
  expect(imp).toContain("--vmname=kubeadm-k8s-control");
  // VDI, because the image's VMDK cannot be resized to diskGb.
  expect(imp).toContain("--options=importtovdi");
  expect(modifyArgs(cp)).toEqual(expect.arrayContaining(["--cpus=2", "--memory=4096"]));
  expect(modifyArgs(w)).toEqual(expect.arrayContaining(["--cpus=2", "--memory=2048"]));
  expect(cp.diskMb).toBe(20 * 1024);
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

test("a changed plan replaces the VM, deleting the old one first (same name and IP), with bounded timeouts", () => {
  for (const c of byType(resources, "command:local:Command")) {
    expect(c.deleteBeforeReplace).toBe(true);
    expect(c.replaceOnChanges).toContain("*");
    expect(c.customTimeouts?.create).toMatch(/^\d+s$/);
    expect(Number(c.customTimeouts!.create!.slice(0, -1))).toBeGreaterThan(spec.virtualbox!.bootTimeoutSeconds);
    expect(c.customTimeouts?.delete).toBeDefined();
  }
});

test("the SSH private key never reaches the VM command", () => {
  for (const c of byType(resources, "command:local:Command")) expect(JSON.stringify(c.inputs)).not.toContain("TESTKEYDONOTUSE\n");
  expect(JSON.stringify(byName(resources, "kubeadm-k8s-control-vm").inputs)).toContain(TEST_PUBLIC_KEY);
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
    expect(await valueOf(h.machineId)).toBe(mockCommandStdout(`kubeadm-${node.name}-vm`));
    expect(h.publicAddress).toBeUndefined();
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
  expect(() => vboxPlan(outside, outside.nodes[0], TEST_PUBLIC_KEY)).toThrow(/not inside the host-only network 192.168.56.0\/24/);
});
