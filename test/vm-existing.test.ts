// Existing hosts: Hosts straight from the spec (sshHost/sshPort/publicIp honoured), a constant
// machineId, and nothing created, so nothing can ever be deleted at the machine level.
import * as pulumi from "@pulumi/pulumi";
import { runMocked, valueOf, RecordedResource } from "./harness";
import { existingSpec, TEST_PRIVATE_KEY } from "./fixtures";
import { provisionMachines } from "../components/machines";
import { existingMachineId } from "../components/machines/existing";
import { Host } from "../components/machines/host";

const base = existingSpec(2);
const spec = existingSpec(2, {
  ssh: { ...base.ssh, port: 2200 },
  nodes: [
    { ...base.nodes[0], sshHost: "bastion.example.net", sshPort: 10022, publicIp: "198.51.100.7" },
    base.nodes[1],
    base.nodes[2],
  ],
});
let resources: RecordedResource[];
let hosts: Host[];

beforeAll(async () => {
  const run = await runMocked({ config: {} }, () => provisionMachines(spec, { privateKey: pulumi.secret(TEST_PRIVATE_KEY), publicKey: "" }, {}));
  resources = run.resources;
  hosts = run.value;
});

test("no resources are created for existing hosts", () => {
  expect(resources).toEqual([]);
});

test("one Host per node in spec order; SSH goes to sshHost/sshPort when given, else the node IP and ssh.port", async () => {
  expect(hosts.map((h) => h.name)).toEqual(["cp", "w1", "w2"]);
  expect(hosts.map((h) => h.role)).toEqual(["control-plane", "worker", "worker"]);
  expect(await valueOf(hosts[0].connection.host)).toBe("bastion.example.net");
  expect(hosts[0].connection.port).toBe(10022);
  expect(await valueOf(hosts[1].connection.host)).toBe(spec.nodes[1].ip);
  expect(hosts[1].connection.port).toBe(2200);
  expect(hosts.map((h) => h.nodeIp)).toEqual(spec.nodes.map((n) => n.ip));
  expect(await pulumi.isSecret(pulumi.output(hosts[1].connection.privateKey))).toBe(true);
});

test("publicAddress only where publicIp is configured; no machine resource", async () => {
  expect(await valueOf(hosts[0].publicAddress)).toBe("198.51.100.7");
  expect(hosts[1].publicAddress).toBeUndefined();
  for (const h of hosts) expect(h.machine).toBeUndefined();
});

test("machineId is constant for a name+IP and changes when either changes", async () => {
  expect(await valueOf(hosts[1].machineId)).toBe(`existing:w1@${spec.nodes[1].ip}`);
  const n = spec.nodes[1];
  expect(existingMachineId(n)).toBe(existingMachineId({ ...n }));
  expect(existingMachineId({ ...n, ip: "10.10.9.9" })).not.toBe(existingMachineId(n));
  expect(existingMachineId({ ...n, name: "w9" })).not.toBe(existingMachineId(n));
});
