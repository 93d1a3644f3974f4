// Aliyun ECS machines under mocks: network, security rules (admin CIDR only, never 0.0.0.0/0; all
// traffic inside the group), key pair, instances with the spec's private IPs, and the Hosts.
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { runMocked, byName, byType, valueOf, RecordedResource } from "./harness";
import { aliyunSpec, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";
import { provisionMachines } from "../components/machines";
import { Host } from "../components/machines/host";
import { checkAliyunAddresses, ecsUserData } from "../components/machines/aliyun-plan";

const spec = aliyunSpec();
const IMAGE = "ubuntu_22_04_x64_20G_alibase_20260522.vhd";
const publicIpOf = (name: string) => (name === "kubeadm-k8s-master-ecs" ? "198.51.100.10" : "198.51.100.20");
let resources: RecordedResource[];
let invokes: { token: string; inputs: Record<string, unknown> }[];
let hosts: Host[];

beforeAll(async () => {
  const run = await runMocked(
    {
      config: {},
      state: (args) =>
        args.type === "alicloud:ecs/instance:Instance"
          ? { ...(args.inputs as Record<string, unknown>), publicIp: publicIpOf(args.name), privateIp: (args.inputs as Record<string, unknown>).privateIp }
          : undefined,
      call: (token) => {
        if (token === "alicloud:index/getZones:getZones") return { zones: [{ id: "cn-hangzhou-k" }, { id: "cn-hangzhou-j" }], ids: ["cn-hangzhou-k", "cn-hangzhou-j"] };
        if (token === "alicloud:ecs/getImages:getImages") return { images: [{ id: IMAGE, name: IMAGE }], ids: [IMAGE] };
        return undefined;
      },
    },
    () => provisionMachines(spec, { privateKey: pulumi.secret(TEST_PRIVATE_KEY), publicKey: TEST_PUBLIC_KEY }, {}),
  );
  resources = run.resources;
  invokes = run.invokes;
  hosts = run.value;
});

const rules = () => byType(resources, "alicloud:ecs/securityGroupRule:SecurityGroupRule");

test("an explicit provider pins the region; every cloud resource uses it", () => {
  const providers = byType(resources, "pulumi:providers:alicloud");
  expect(providers).toHaveLength(1);
  expect(providers[0].inputs.region).toBe("cn-hangzhou");
  const cloud = resources.filter((r) => r.type.startsWith("alicloud:"));
  expect(cloud.length).toBeGreaterThan(5);
  for (const r of cloud) expect(r.provider).toBe(providers[0].name);
  // Data sources go through the same provider (region).
  expect(invokes.map((i) => i.token).sort()).toEqual(["alicloud:ecs/getImages:getImages", "alicloud:index/getZones:getZones"]);
});

test("VPC and vSwitch use the configured CIDRs; the zone comes from the data source for the instance type", () => {
  expect(byType(resources, "alicloud:vpc/network:Network")[0].inputs.cidrBlock).toBe("172.16.0.0/16");
  const vsw = byType(resources, "alicloud:vpc/switch:Switch")[0];
  expect(vsw.inputs.cidrBlock).toBe("172.16.1.0/24");
  expect(vsw.inputs.zoneId).toBe("cn-hangzhou-k");
  const zones = invokes.find((i) => i.token === "alicloud:index/getZones:getZones");
  expect(zones?.inputs).toMatchObject({ availableResourceCreation: "VSwitch", availableInstanceType: "ecs.c7.large" });
});

test("the security group accepts intra-group traffic, and an explicit all-protocol rule from itself", () => {
  const sg = byType(resources, "alicloud:ecs/securityGroup:SecurityGroup")[0];
  expect(sg.inputs.innerAccessPolicy).toBe("Accept");
  const intra = rules().filter((r) => r.inputs.sourceSecurityGroupId !== undefined);
  expect(intra).toHaveLength(1);
  expect(intra[0].inputs).toMatchObject({ type: "ingress", ipProtocol: "all", portRange: "-1/-1", nicType: "intranet", policy: "accept" });
  expect(intra[0].inputs.cidrIp).toBeUndefined();
});

test("SSH, the API server and NodePorts are open to the admin CIDR only; nothing is open to the world", () => {
  const byPort = (proto: string, range: string) => rules().filter((r) => r.inputs.ipProtocol === proto && r.inputs.portRange === range);
  for (const [proto, range] of [["tcp", "22/22"], ["tcp", "6443/6443"], ["tcp", "30000/32767"], ["udp", "30000/32767"]]) {
    const found = byPort(proto, range);
    expect(found).toHaveLength(1);
    expect(found[0].inputs.cidrIp).toBe(spec.aliyun?.adminCidr);
    expect(found[0].inputs.type).toBe("ingress");
  }
  for (const r of rules()) {
    expect(r.inputs.cidrIp).not.toBe("0.0.0.0/0");
    // Every rule has exactly one source: a CIDR or the group itself.
    expect([r.inputs.cidrIp, r.inputs.sourceSecurityGroupId].filter((v) => v !== undefined)).toHaveLength(1);
  }
  // Nothing else is open from outside the group (etcd, kubelet, flannel stay internal).
  expect(rules().filter((r) => r.inputs.cidrIp !== undefined)).toHaveLength(4);
});

test("the key pair imports the SSH public key; instances log in with it", () => {
  const key = byType(resources, "alicloud:ecs/ecsKeyPair:EcsKeyPair")[0];
  expect(key.inputs.publicKey).toBe(TEST_PUBLIC_KEY);
  for (const i of byType(resources, "alicloud:ecs/instance:Instance")) expect(i.inputs.keyName).toBe(key.inputs.keyPairName);
});

test("instances: newest system Ubuntu 22.04 image, type, static private IP, hostname, explicit charge settings", () => {
  const images = invokes.find((i) => i.token === "alicloud:ecs/getImages:getImages");
  expect(images?.inputs).toMatchObject({ owners: "system", nameRegex: "^ubuntu_22_04_x64_20G_alibase_", mostRecent: true });
  const cp = byName(resources, "kubeadm-k8s-master-ecs");
  expect(cp.inputs).toMatchObject({
    imageId: IMAGE,
    instanceType: "ecs.c7.large",
    privateIp: "172.16.1.10",
    hostName: "k8s-master",
    instanceName: "kubeadm-k8s-master",
    instanceChargeType: "PostPaid",
    internetChargeType: "PayByTraffic",
    internetMaxBandwidthOut: 10,
    systemDiskCategory: "cloud_essd",
    systemDiskSize: 40,
    spotStrategy: "NoSpot",
  });
  expect(byName(resources, "kubeadm-k8s-worker-ecs").inputs.privateIp).toBe("172.16.1.20");
  // root logs in with the key pair: the user-data only installs the pinned host key, and is secret.
  const ud = yaml.load(Buffer.from(String(cp.inputs.userData), "base64").toString("utf8")) as Record<string, unknown>;
  expect(Object.keys(ud).sort()).toEqual(["ssh_deletekeys", "ssh_genkeytypes", "ssh_keys"]);
  expect(cp.secretInputs).toContain("userData");
  expect(cp.additionalSecretOutputs).toContain("userData");
  // SSH must be allowed before anything connects.
  for (const r of rules()) expect(cp.dependsOn).toContain(r.name);
});

test("Hosts: node IP = private IP, SSH and publicAddress = public IP, machineId = instance id", async () => {
  expect(hosts.map((h) => h.name)).toEqual(["k8s-master", "k8s-worker"]);
  for (const [i, h] of hosts.entries()) {
    const ecs = `kubeadm-${spec.nodes[i].name}-ecs`;
    expect(h.nodeIp).toBe(spec.nodes[i].ip);
    expect(await valueOf(h.connection.host)).toBe(publicIpOf(ecs));
    expect(await valueOf(h.publicAddress)).toBe(publicIpOf(ecs));
    expect(h.connection.user).toBe("root");
    expect(h.connection.port).toBe(22);
    expect(await valueOf(h.machineId)).toBe(`${ecs}-id`);
    expect(h.machine).toBeDefined();
  }
});

test("address checks: vSwitch inside the VPC, node IPs usable inside the vSwitch", () => {
  const bad = (over: Parameters<typeof aliyunSpec>[0]) => () => checkAliyunAddresses(aliyunSpec(over));
  expect(bad({ aliyun: { ...spec.aliyun!, vswitchCidr: "10.1.0.0/24" } })).toThrow(/not inside aliyun.vpcCidr/);
  expect(bad({ nodes: [{ name: "a", role: "control-plane", ip: "172.16.2.10" }] })).toThrow(/inside aliyun.vswitchCidr/);
  expect(bad({ nodes: [{ name: "a", role: "control-plane", ip: "172.16.1.253" }] })).toThrow(/last three/);
  expect(bad({})).not.toThrow();
});

test("user-data: the pinned host key for every user; a non-root SSH user also gets a cloud-init user with the key and passwordless sudo", () => {
  const hostKey = { privateKeyOpenssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nHOSTKEY\n-----END OPENSSH PRIVATE KEY-----\n", publicLine: "ecdsa-sha2-nistp256 AAAAE2VjZHNh" };
  const root = yaml.load(Buffer.from(ecsUserData("root", TEST_PUBLIC_KEY, hostKey), "base64").toString("utf8")) as Record<string, unknown>;
  expect(root).toEqual({ ssh_deletekeys: true, ssh_genkeytypes: [], ssh_keys: { ecdsa_private: hostKey.privateKeyOpenssh, ecdsa_public: hostKey.publicLine } });
  const text = Buffer.from(ecsUserData("ubuntu", TEST_PUBLIC_KEY, hostKey), "base64").toString("utf8");
  expect(text.startsWith("#cloud-config\n")).toBe(true);
  expect(text).toContain(JSON.stringify(TEST_PUBLIC_KEY));
  expect(text).toContain('"ALL=(ALL) NOPASSWD:ALL"');
  expect((yaml.load(text) as { ssh_keys: unknown }).ssh_keys).toEqual(root.ssh_keys);
});
