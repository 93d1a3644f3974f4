// What the cluster wires around node preparation and the control plane's certificates, under mocks:
//   - existing hosts get `<node>-undo-prep` (scripts/node/undo-prep.sh through the cleanup runner),
//     ordered so destroy runs it after the node's reset (and a worker's drain), with the `existing`
//     block's choices in its header; VMs and ECS instances get none (they are deleted instead);
//   - kubernetes.certificateRenewal adds `<cp>-renew-certs` before the CA hash is read (workers never
//     meet a restarting API server) and makes the kubeconfig be read again.
import { RecordedResource, dependsTransitively } from "./harness";
import type { KubeadmClusterArgs } from "../components/cluster/args";

const EXISTING: KubeadmClusterArgs = {
  provider: "existing",
  nodes: [
    { name: "cp", role: "control-plane", ip: "10.10.0.10" },
    { name: "w1", role: "worker", ip: "10.10.0.11" },
    { name: "w2", role: "worker", ip: "10.10.0.12" },
  ],
  kubernetes: { version: "1.30.12" },
  ssh: { user: "ubuntu" },
  // A key given by the user: the cluster generates none.
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n",
};

async function cluster(args: KubeadmClusterArgs): Promise<RecordedResource[]> {
  let out: RecordedResource[] = [];
  await jest.isolateModulesAsync(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- fresh registry per program
    const h = require("./harness") as typeof import("./harness");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- same registry as the harness
    const { KubeadmCluster } = require("../components") as typeof import("../components");
    out = (await h.runMocked({ config: {}, stack: "lab" }, () => new KubeadmCluster("lab", args))).resources;
  });
  return out;
}

const custom = (rs: RecordedResource[], name: string): RecordedResource => {
  const found = rs.filter((r) => r.custom && r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${name}; have ${rs.filter((r) => r.custom).map((r) => r.name).join(", ")}`);
  return found[0];
};
const scriptOf = (r: RecordedResource): string => (JSON.parse(String(r.inputs.stdin)) as { script: string }).script;

describe("existing hosts: destroy puts the machines back (undo-prep)", () => {
  let rs: RecordedResource[];
  beforeAll(async () => {
    rs = await cluster(EXISTING);
  });

  test("every node has an undo-prep cleanup that runs the undo script through the runner on delete only", () => {
    for (const n of ["cp", "w1", "w2"]) {
      const u = custom(rs, `lab-${n}-undo-prep`);
      expect(u.type).toBe("command:local:Command");
      expect(u.inputs.create).toBeUndefined();
      expect(u.inputs.delete).toBe("run");
      expect(JSON.stringify(u.inputs.interpreter)).toContain("remote/ssh-run.js");
      expect(scriptOf(u)).toContain("undo-prep.sh");
      expect(u.secretInputs).toContain("stdin");
    }
  });

  test("defaults of the existing block reach the script: packages purged, swap left off", () => {
    const s = scriptOf(custom(rs, "lab-w1-undo-prep"));
    expect(s).toMatch(/^REMOVE_PACKAGES='?true'?$/m);
    expect(s).toMatch(/^RESTORE_SWAP='?false'?$/m);
  });

  test("delete order: drain, then reset, then undo-prep (Pulumi deletes dependents first)", () => {
    // init/join depend on the undo resource, the resets on init/join: the undo is deleted after them.
    expect(dependsTransitively(rs, "lab-cp-init", "lab-cp-undo-prep")).toBe(true);
    expect(dependsTransitively(rs, "lab-cp-reset", "lab-cp-undo-prep")).toBe(true);
    expect(dependsTransitively(rs, "lab-w1-reset", "lab-w1-undo-prep")).toBe(true);
    expect(dependsTransitively(rs, "lab-w1-drain", "lab-w1-undo-prep")).toBe(true);
    // ... and after prep's own run, so it is never created before the thing it undoes.
    expect(dependsTransitively(rs, "lab-w1-undo-prep", "lab-w1-prep")).toBe(true);
  });

  test("the existing block's choices change the script (an update: nothing runs until delete)", async () => {
    const other = await cluster({ ...EXISTING, existing: { removeKubePackages: false, restoreSwap: true } });
    const s = scriptOf(custom(other, "lab-w1-undo-prep"));
    expect(s).toMatch(/^REMOVE_PACKAGES='?false'?$/m);
    expect(s).toMatch(/^RESTORE_SWAP='?true'?$/m);
    // Same triggers: the resource updates in place (no delete, so no undo runs on the live node).
    expect(custom(other, "lab-w1-undo-prep").inputs.triggers).toEqual(custom(rs, "lab-w1-undo-prep").inputs.triggers);
  });
});

test("VirtualBox machines get no undo-prep (the VM is deleted instead)", async () => {
  const rs = await cluster({
    provider: "virtualbox",
    nodes: [
      { name: "cp", role: "control-plane", ip: "192.168.56.10" },
      { name: "w1", role: "worker", ip: "192.168.56.11" },
    ],
    kubernetes: { version: "1.30.12", nic: "enp0s8" },
    virtualbox: { imagePath: "/images/ubuntu-22.04-server-cloudimg-amd64.ova" },
  });
  expect(rs.filter((r) => r.name.endsWith("-undo-prep"))).toEqual([]);
});

describe("kubernetes.certificateRenewal", () => {
  test("unset: no renewal step", async () => {
    const rs = await cluster(EXISTING);
    expect(rs.filter((r) => r.name.endsWith("-renew-certs"))).toEqual([]);
  });

  test("set: renew-certs runs on the control plane after init, before the CA hash (and so before any worker token); the kubeconfig is read after it", async () => {
    const rs = await cluster({ ...EXISTING, kubernetes: { version: "1.30.12", certificateRenewal: "2027-06" } });
    const renew = custom(rs, "lab-cp-renew-certs");
    expect(String(renew.inputs.create)).toContain("kubeadm certs renew all");
    expect(renew.inputs.triggers).toEqual(expect.arrayContaining(["2027-06"]));
    expect(dependsTransitively(rs, "lab-cp-renew-certs", "lab-cp-init")).toBe(true);
    expect(dependsTransitively(rs, "lab-cp-ca-hash", "lab-cp-renew-certs")).toBe(true);
    expect(dependsTransitively(rs, "lab-w1-token", "lab-cp-renew-certs")).toBe(true);
    const kubeconfig = custom(rs, "lab-cp-kubeconfig");
    expect(kubeconfig.propertyDependencies.triggers).toEqual(expect.arrayContaining(["lab-cp-renew-certs"]));
  });
});
