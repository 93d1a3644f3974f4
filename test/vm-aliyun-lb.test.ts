// The Aliyun API load balancer (HA control plane) under mocks: 3 control planes + 2 workers behind an
// NLB. Every resource and its key inputs, the public and intranet variants, the pure plan's choices and
// refusals, AliyunMachines unchanged without the switch, and day-2 transitions held to the lifecycle
// rule model (test/lifecycle/rules.ts, which now knows the NLB/EIP ForceNew inputs).
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { RecordedResource } from "./harness";
import { aliyunSpec, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY } from "./fixtures";
import { ClusterSpec, NodeSpec } from "../components/spec";
import { FORCE_NEW, planTransition, byAction, Planned } from "./lifecycle/rules";
import {
  LB_FORCE_NEW,
  checkEndpointIp,
  checkLbNodes,
  checkSecondVswitchCidr,
  defaultEndpointIp,
  defaultSecondVswitchCidr,
  lbCertSans,
  lbNames,
  lbPlan,
  lbSecurityGroupRules,
  secondZone,
  SECONDS_TO_HEALTHY,
  HEALTH_CHECK,
} from "../components/machines/aliyun-lb-plan";
import type { ApiLoadBalancerSettings } from "../components/machines/aliyun-lb-plan";

type Obj = Record<string, unknown>;
const T = {
  lb: "alicloud:nlb/loadBalancer:LoadBalancer",
  group: "alicloud:nlb/serverGroup:ServerGroup",
  listener: "alicloud:nlb/listener:Listener",
  attachment: "alicloud:nlb/serverGroupServerAttachment:ServerGroupServerAttachment",
  eip: "alicloud:ecs/eipAddress:EipAddress",
  vswitch: "alicloud:vpc/switch:Switch",
  sg: "alicloud:ecs/securityGroup:SecurityGroup",
  rule: "alicloud:ecs/securityGroupRule:SecurityGroupRule",
  instance: "alicloud:ecs/instance:Instance",
  component: "kubeadm:vm:AliyunApiLoadBalancer",
};
const MACHINES = "kubeadm-machines";
const LB = `${MACHINES}-api-lb`;
const ENDPOINT = "172.16.1.250";
const ZONE = "cn-hangzhou-k";
const NLB_ZONES = ["cn-hangzhou-k", "cn-hangzhou-j", "cn-hangzhou-h"];
const IMAGE = "ubuntu_22_04_x64_20G_alibase_20260522.vhd";
const EIP_IP: Record<string, string> = { [`${LB}-eip-primary`]: "198.51.100.101", [`${LB}-eip-secondary`]: "198.51.100.102" };
const DNS = "nlb-abc123.cn-hangzhou.nlb.aliyuncsslb.com";

const cp = (i: number): NodeSpec => ({ name: `cp-${i}`, role: "control-plane", ip: `172.16.1.1${i}` });
const w = (i: number): NodeSpec => ({ name: `w-${i}`, role: "worker", ip: `172.16.1.2${i}` });
const haNodes = (cps = 3, workers = 2): NodeSpec[] => [...Array.from({ length: cps }, (_, i) => cp(i + 1)), ...Array.from({ length: workers }, (_, i) => w(i + 1))];
const haSpec = (over: { nodes?: NodeSpec[]; aliyun?: Partial<NonNullable<ClusterSpec["aliyun"]>> } = {}): ClusterSpec => {
  const base = aliyunSpec();
  return aliyunSpec({ nodes: over.nodes ?? haNodes(), aliyun: { ...base.aliyun!, ...over.aliyun } });
};

interface RunOpts {
  readonly ecsZone?: string;
  readonly nlbZones?: readonly string[];
  readonly image?: string;
  /** vSwitch name -> the zone its state holds (what ignoreChanges keeps: the engine reads outputs from state). */
  readonly keptZones?: Readonly<Record<string, string>>;
}
interface LbOutputs {
  readonly privateAddress: string;
  readonly secondaryPrivateAddress: string;
  readonly publicAddresses: string[];
  readonly dnsName: string;
  readonly certSans: string[];
  readonly ready: string[];
}
interface Run {
  readonly resources: RecordedResource[];
  readonly invokes: { token: string; inputs: Obj }[];
  readonly lb?: LbOutputs;
}

/** One program run in a fresh module registry (runMocked is once per registry). */
async function run(spec: ClusterSpec, lb?: ApiLoadBalancerSettings, o: RunOpts = {}): Promise<Run> {
  let out: Run | undefined;
  await jest.isolateModulesAsync(async () => {
    /* eslint-disable @typescript-eslint/no-require-imports -- fresh registry per run */
    const p = require("@pulumi/pulumi") as typeof pulumi;
    const h = require("./harness") as typeof import("./harness");
    const { AliyunMachines } = require("../components/machines/aliyun") as typeof import("../components/machines/aliyun");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const r = await h.runMocked(
      {
        config: {},
        state: (a) => {
          const i = a.inputs as Obj;
          if (a.type === T.instance) return { ...i, publicIp: `198.51.100.${10 + Number(String(i.privateIp).split(".")[3]) % 100}`, privateIp: i.privateIp };
          if (a.type === T.eip) return { ...i, ipAddress: EIP_IP[a.name] };
          if (a.type === T.lb) return { ...i, dnsName: DNS };
          if (a.type === T.vswitch && o.keptZones?.[a.name]) return { ...i, zoneId: o.keptZones[a.name] };
          return undefined;
        },
        call: (token) => {
          if (token === "alicloud:index/getZones:getZones") return { zones: [{ id: o.ecsZone ?? ZONE }], ids: [o.ecsZone ?? ZONE] };
          if (token === "alicloud:ecs/getImages:getImages") return { images: [{ id: o.image ?? IMAGE, name: o.image ?? IMAGE }], ids: [o.image ?? IMAGE] };
          if (token === "alicloud:nlb/getZones:getZones") {
            const zs = o.nlbZones ?? NLB_ZONES;
            return { zones: zs.map((z) => ({ id: z, zoneId: z, localName: z })), ids: zs };
          }
          return undefined;
        },
      },
      () => new AliyunMachines(MACHINES, { spec, privateKey: p.secret(TEST_PRIVATE_KEY), publicKey: TEST_PUBLIC_KEY, apiLoadBalancer: lb }),
    );
    const m = r.value.apiLoadBalancer;
    const nameOf = async (x: pulumi.Resource) => {
      const urn = await h.valueOf((x as pulumi.CustomResource).urn);
      return urn.slice(urn.lastIndexOf("::") + 2);
    };
    out = {
      resources: r.resources,
      invokes: r.invokes,
      lb: m && {
        privateAddress: m.privateAddress,
        secondaryPrivateAddress: m.secondaryPrivateAddress,
        publicAddresses: await h.valueOf(m.publicAddresses),
        dnsName: await h.valueOf(m.dnsName),
        certSans: await h.valueOf(m.certSans),
        ready: await Promise.all(m.ready.map(nameOf)),
      },
    };
  });
  if (!out) throw new Error("run did not finish");
  return out;
}

const of = (rs: readonly RecordedResource[], type: string) => rs.filter((r) => r.type === type);
const one = (rs: readonly RecordedResource[], name: string) => {
  const f = rs.filter((r) => r.name === name);
  if (f.length !== 1) throw new Error(`expected one ${name}, found ${f.length}`);
  return f[0];
};
/** The LB component's own resources (its children), by name. */
const lbChildren = (rs: readonly RecordedResource[]) => rs.filter((r) => r.parent === LB).map((r) => r.name).sort();
/** Canonical text of a run: every recorded field, sorted by type and name. */
const canon = (rs: readonly RecordedResource[]) => JSON.stringify([...rs].sort((a, b) => (a.type + a.name < b.type + b.name ? -1 : 1)), null, 1);
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

describe("3 control planes + 2 workers behind a public NLB", () => {
  let R: Run;
  const spec = haSpec();
  beforeAll(async () => {
    R = await run(spec, { endpointIp: ENDPOINT });
  });
  const rs = () => R.resources;

  test("one component (kubeadm:vm:AliyunApiLoadBalancer) under AliyunMachines holds every LB resource", () => {
    const comp = of(rs(), T.component);
    expect(comp.map((c) => [c.name, c.parent])).toEqual([[LB, MACHINES]]);
    expect(lbChildren(rs())).toEqual(
      [
        `${LB}-vswitch`,
        `${LB}-sg`,
        `${LB}-sg-admin`,
        `${LB}-sg-vpc`,
        `${LB}-sg-deny-rest`,
        `${LB}-node-apiserver-from-vpc`,
        `${LB}-eip-primary`,
        `${LB}-eip-secondary`,
        `${LB}-nlb`,
        `${LB}-group`,
        `${LB}-listener`,
        `${LB}-cp-1`,
        `${LB}-cp-2`,
        `${LB}-cp-3`,
      ].sort(),
    );
    // The same region-pinned provider as every other cloud resource.
    for (const r of rs().filter((x) => x.parent === LB)) expect(r.provider).toBe(`${MACHINES}-provider`);
    // nlb.getZones goes through it too.
    expect(R.invokes.map((i) => i.token).sort()).toEqual(["alicloud:ecs/getImages:getImages", "alicloud:index/getZones:getZones", "alicloud:nlb/getZones:getZones"]);
  });

  test("server group: Instance type, TCP, client IP preservation off (explicit), TCP health check on 6443", () => {
    const g = one(rs(), `${LB}-group`);
    expect(g.inputs).toMatchObject({ serverGroupName: "kubeadm-test-api", serverGroupType: "Instance", protocol: "TCP", vpcId: `${MACHINES}-vpc-id`, preserveClientIpEnabled: false });
    expect(g.inputs.preserveClientIpEnabled).toBe(false);
    expect(g.inputs.healthCheck).toEqual({
      healthCheckEnabled: true,
      healthCheckType: "TCP",
      healthCheckConnectPort: 6443,
      healthCheckInterval: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
      healthCheckConnectTimeout: 5,
    });
    expect(SECONDS_TO_HEALTHY).toBe(10);
  });

  test("listener: TCP 6443 on the NLB to the server group; a replacement goes after the old one (one listener per port)", () => {
    const l = one(rs(), `${LB}-listener`);
    expect(l.inputs).toMatchObject({ listenerProtocol: "TCP", listenerPort: 6443, loadBalancerId: `${LB}-nlb-id`, serverGroupId: `${LB}-group-id` });
    expect(l.deleteBeforeReplace).toBe(true);
  });

  test("one attachment per control plane (the instance's id, Ecs, port 6443), none for workers; each depends on its instance", () => {
    const att = of(rs(), T.attachment);
    expect(att.map((a) => a.name).sort()).toEqual([`${LB}-cp-1`, `${LB}-cp-2`, `${LB}-cp-3`]);
    for (const a of att) {
      const node = a.name.slice(LB.length + 1);
      expect(a.inputs).toMatchObject({ serverGroupId: `${LB}-group-id`, serverId: `kubeadm-${node}-ecs-id`, serverType: "Ecs", port: 6443, weight: 100 });
      // The engine deletes the attachment before the instance (it depends on it), and a new instance means a new attachment.
      expect(a.propertyDependencies.serverId).toEqual([`kubeadm-${node}-ecs`]);
    }
    expect(att.some((a) => /w-\d/.test(a.name))).toBe(false);
  });

  test("NLB: Internet, cross-zone, its own security group, two zone mappings with fixed private addresses and one EIP each", () => {
    const nlb = one(rs(), `${LB}-nlb`);
    expect(nlb.inputs).toMatchObject({ loadBalancerName: "kubeadm-test-api", addressType: "Internet", vpcId: `${MACHINES}-vpc-id`, crossZoneEnabled: true, securityGroupIds: [`${LB}-sg-id`] });
    expect(nlb.inputs.zoneMappings).toEqual([
      { zoneId: ZONE, vswitchId: `${MACHINES}-vswitch-id`, privateIpv4Address: ENDPOINT, allocationId: `${LB}-eip-primary-id` },
      { zoneId: "cn-hangzhou-j", vswitchId: `${LB}-vswitch-id`, privateIpv4Address: "172.16.255.250", allocationId: `${LB}-eip-secondary-id` },
    ]);
    // Fixed private addresses: the old NLB must go before a replacement can take them.
    expect(nlb.deleteBeforeReplace).toBe(true);
    // Created after every instance, workers too: it takes local addresses from the nodes' vSwitch and must
    // not take a node's fixed IP before that node exists.
    for (let i = 1; i <= 3; i++) expect(nlb.dependsOn).toContain(`kubeadm-cp-${i}-ecs`);
    expect(nlb.dependsOn.filter((d) => d.startsWith("kubeadm-w-")).sort()).toEqual(["kubeadm-w-1-ecs", "kubeadm-w-2-ecs"]);
  });

  test("second vSwitch: default CIDR at the top of the VPC, the first other NLB zone, kept (ignoreChanges), old one first on replace", () => {
    const v = one(rs(), `${LB}-vswitch`);
    expect(v.inputs).toMatchObject({ vpcId: `${MACHINES}-vpc-id`, cidrBlock: "172.16.255.0/24", zoneId: "cn-hangzhou-j", vswitchName: "kubeadm-test-api-lb" });
    expect(v.ignoreChanges).toEqual(["zoneId"]);
    expect(v.deleteBeforeReplace).toBe(true);
    // No instance lives there.
    for (const i of of(rs(), T.instance)) expect(i.inputs.vswitchId).toBe(`${MACHINES}-vswitch-id`);
  });

  test("EIPs: one per zone, pay-as-you-go by traffic, bandwidth from aliyun.internetMaxBandwidthOut", () => {
    const e = of(rs(), T.eip);
    expect(e.map((x) => x.name).sort()).toEqual([`${LB}-eip-primary`, `${LB}-eip-secondary`]);
    for (const x of e) expect(x.inputs).toMatchObject({ paymentType: "PayAsYouGo", internetChargeType: "PayByTraffic", bandwidth: "10" });
  });

  test("security: the NLB accepts 6443 from exactly the admin CIDR and the VPC, then drops the rest; nothing accepts 0.0.0.0/0", () => {
    const lbRules = of(rs(), T.rule).filter((r) => r.inputs.securityGroupId === `${LB}-sg-id`);
    const accepts = lbRules.filter((r) => r.inputs.policy === "accept");
    expect(accepts.map((r) => [r.inputs.ipProtocol, r.inputs.portRange, r.inputs.cidrIp, r.inputs.priority]).sort()).toEqual(
      [
        ["tcp", "6443/6443", spec.aliyun!.adminCidr, 1],
        ["tcp", "6443/6443", "172.16.0.0/16", 1],
      ].sort(),
    );
    const drops = lbRules.filter((r) => r.inputs.policy === "drop");
    expect(drops.map((r) => [r.inputs.ipProtocol, r.inputs.portRange, r.inputs.cidrIp, r.inputs.priority])).toEqual([["all", "-1/-1", "0.0.0.0/0", 100]]);
    for (const r of of(rs(), T.rule)) {
      expect(r.inputs.type).toBe("ingress");
      if (r.inputs.policy === "accept") expect(r.inputs.cidrIp).not.toBe("0.0.0.0/0");
    }
    const sg = one(rs(), `${LB}-sg`);
    expect(sg.inputs).toMatchObject({ vpcId: `${MACHINES}-vpc-id`, securityGroupName: "kubeadm-test-api-lb", securityGroupType: "normal" });
  });

  test("the nodes' group gains exactly one rule: 6443 from the VPC (the NLB's local addresses, client IP preservation off)", () => {
    const nodeRules = of(rs(), T.rule).filter((r) => r.inputs.securityGroupId === `${MACHINES}-sg-id`);
    const added = nodeRules.filter((r) => r.parent === LB);
    expect(added.map((r) => [r.name, r.inputs.ipProtocol, r.inputs.portRange, r.inputs.cidrIp, r.inputs.policy])).toEqual([
      [`${LB}-node-apiserver-from-vpc`, "tcp", "6443/6443", "172.16.0.0/16", "accept"],
    ]);
  });

  test("outputs: private endpoint, public EIPs, DNS name, certificate SANs, and what kubeadm init must wait for", () => {
    expect(R.lb).toEqual({
      privateAddress: ENDPOINT,
      secondaryPrivateAddress: "172.16.255.250",
      publicAddresses: ["198.51.100.101", "198.51.100.102"],
      dnsName: DNS,
      certSans: [ENDPOINT, "172.16.255.250", "198.51.100.101", "198.51.100.102", DNS],
      ready: [`${LB}-listener`, `${LB}-cp-1`, `${LB}-node-apiserver-from-vpc`, `${LB}-sg-admin`, `${LB}-sg-vpc`, `${LB}-sg-deny-rest`],
    });
  });

  test("AliyunMachines' own resources are the same with and without the load balancer (it only adds)", async () => {
    const without = await run(spec);
    const notLb = R.resources.filter((r) => r.parent !== LB && r.name !== LB);
    expect(canon(notLb)).toBe(canon(without.resources));
    expect(without.invokes.map((i) => i.token)).not.toContain("alicloud:nlb/getZones:getZones");
  });
});

describe("without apiLoadBalancer AliyunMachines registers exactly what it did before the load balancer existed", () => {
  // Digests of every recorded field (type, name, parent, inputs, dependencies, options) of the runs below,
  // taken at 237bac4 (before aliyun.ts knew the load balancer) with the same mocks. A change here means
  // a single-control-plane stack would see a diff.
  const BEFORE = {
    default: "ca048fc9b8256d4b069d0e6e555a6b7b8b7da72f7da8ea310ef1d5b24ac006ce",
    ha: "9c1ffee2e43c789b343dad6f6eef90b21289f68b4a5814e9af9af558d15d186b",
  };
  const baselineRun = async (spec: ClusterSpec): Promise<RecordedResource[]> => {
    let out: RecordedResource[] = [];
    await jest.isolateModulesAsync(async () => {
      /* eslint-disable @typescript-eslint/no-require-imports -- fresh registry per run */
      const p = require("@pulumi/pulumi") as typeof pulumi;
      const h = require("./harness") as typeof import("./harness");
      const { AliyunMachines } = require("../components/machines/aliyun") as typeof import("../components/machines/aliyun");
      /* eslint-enable @typescript-eslint/no-require-imports */
      const r = await h.runMocked(
        {
          config: {},
          call: (t) => (t === "alicloud:index/getZones:getZones" ? { zones: [{ id: "cn-hangzhou-k" }] } : t === "alicloud:ecs/getImages:getImages" ? { images: [{ id: "img" }] } : undefined),
        },
        () => new AliyunMachines(MACHINES, { spec, privateKey: p.secret(TEST_PRIVATE_KEY), publicKey: TEST_PUBLIC_KEY }),
      );
      out = r.resources;
    });
    return out;
  };
  test("the stack file's single control plane and a 3+2 node list: byte-identical registrations", async () => {
    const hasLbNode = (rs: RecordedResource[]) => rs.some((r) => r.type.startsWith("alicloud:nlb/") || r.type === T.eip || r.type === T.component);
    const d = await baselineRun(aliyunSpec());
    expect(hasLbNode(d)).toBe(false);
    expect(sha(canon(d))).toBe(BEFORE.default);
    const h = await baselineRun(haSpec());
    expect(hasLbNode(h)).toBe(false);
    expect(sha(canon(h))).toBe(BEFORE.ha);
  });
});

describe("intranet: aliyun.internetMaxBandwidthOut = 0", () => {
  test("Intranet NLB, no EIP, no public address; the API is reachable only inside the VPC", async () => {
    const R = await run(haSpec({ aliyun: { internetMaxBandwidthOut: 0 } }), { endpointIp: ENDPOINT });
    const nlb = one(R.resources, `${LB}-nlb`);
    expect(nlb.inputs.addressType).toBe("Intranet");
    expect(of(R.resources, T.eip)).toEqual([]);
    expect((nlb.inputs.zoneMappings as Obj[]).map((z) => z.allocationId)).toEqual([undefined, undefined]);
    expect(R.lb?.publicAddresses).toEqual([]);
    expect(R.lb?.certSans).toEqual([ENDPOINT, "172.16.255.250", DNS]);
  });
});

describe("the pure plan", () => {
  const a = aliyunSpec().aliyun!;

  test("endpoint IP: default near the top of the vSwitch; must be usable in the nodes' vSwitch and no node's IP", () => {
    expect(defaultEndpointIp("172.16.1.0/24")).toBe("172.16.1.250");
    expect(defaultEndpointIp("10.0.0.0/28")).toBe("10.0.0.10");
    expect(() => checkEndpointIp("172.16.1.250", "172.16.1.0/24")).not.toThrow();
    expect(() => checkEndpointIp("172.16.2.250", "172.16.1.0/24")).toThrow(/usable address inside aliyun.vswitchCidr/);
    expect(() => checkEndpointIp("172.16.1.0", "172.16.1.0/24")).toThrow(/not the first or the last three/);
    expect(() => checkEndpointIp("172.16.1.253", "172.16.1.0/24")).toThrow(/not the first or the last three/);
    expect(() => checkEndpointIp("172.16.1.x", "172.16.1.0/24")).toThrow(/not an IPv4 address/);
    expect(() => checkEndpointIp("172.16.1.11", "172.16.1.0/24", haNodes())).toThrow(/node cp-1's IP/);
    expect(() => checkLbNodes([w(1)], a, { endpointIp: ENDPOINT })).toThrow(/no control-plane node/);
  });

  test("second vSwitch CIDR: the highest free /24 of the VPC by default; inside the VPC, apart from the nodes, /16 to /28", () => {
    expect(defaultSecondVswitchCidr("172.16.0.0/16", "172.16.1.0/24")).toBe("172.16.255.0/24");
    expect(defaultSecondVswitchCidr("172.16.0.0/16", "172.16.255.0/24")).toBe("172.16.254.0/24");
    expect(defaultSecondVswitchCidr("10.0.0.0/8", "10.0.0.0/9")).toBe("10.255.255.0/24");
    expect(defaultSecondVswitchCidr("192.168.0.0/24", "192.168.0.0/25")).toBe("192.168.0.128/25");
    expect(defaultSecondVswitchCidr("192.168.0.0/27", "192.168.0.0/28")).toBe("192.168.0.16/28");
    expect(() => defaultSecondVswitchCidr("192.168.0.0/24", "192.168.0.0/24")).toThrow(/no room beside/);
    expect(() => checkSecondVswitchCidr("172.16.255.0/24", "172.16.0.0/16", "172.16.1.0/24")).not.toThrow();
    expect(() => checkSecondVswitchCidr("10.0.0.0/24", "172.16.0.0/16", "172.16.1.0/24")).toThrow(/not inside aliyun.vpcCidr/);
    expect(() => checkSecondVswitchCidr("172.16.0.0/23", "172.16.0.0/16", "172.16.1.0/24")).toThrow(/overlaps aliyun.vswitchCidr/);
    expect(() => checkSecondVswitchCidr("172.16.255.248/29", "172.16.0.0/16", "172.16.1.0/24")).toThrow(/\/16 to \/28/);
    expect(() => checkSecondVswitchCidr("172.16.255.1/24", "172.16.0.0/16", "172.16.1.0/24")).toThrow(/host bits/);
    expect(lbPlan(a, { endpointIp: ENDPOINT, secondVswitchCidr: "172.16.100.0/28" })).toEqual({
      endpointIp: ENDPOINT,
      secondVswitchCidr: "172.16.100.0/28",
      secondIp: "172.16.100.10",
      internet: true,
      eipBandwidth: 10,
    });
    expect(lbPlan({ ...a, internetMaxBandwidthOut: 500 }, { endpointIp: ENDPOINT }).eipBandwidth).toBe(200);
  });

  test("second zone: the first NLB zone that is not the cluster's; clear refusals otherwise", () => {
    expect(secondZone([{ zoneId: "a" }, { zoneId: "b" }, { zoneId: "c" }], "a", "r")).toBe("b");
    expect(secondZone([{ zoneId: "a" }, { zoneId: "b" }, { zoneId: "c" }], "b", "r")).toBe("a");
    expect(secondZone([{ id: "a" }, { id: "b" }], "b", "r")).toBe("a");
    expect(() => secondZone([{ zoneId: "a" }], "a", "cn-x")).toThrow(/an NLB needs two zones, and region cn-x offers NLB only in a/);
    expect(() => secondZone([{ zoneId: "a" }, { zoneId: "b" }], "z", "cn-x")).toThrow(/the cluster's zone z does not offer NLB \(NLB zones in cn-x: a, b\); set aliyun.zone/);
    expect(() => secondZone([], "a", "cn-x")).toThrow(/offers no Network Load Balancer/);
  });

  test("names carry <clusterName>-<stack> and follow the NLB naming rule", () => {
    expect(lbNames("kubeadm-prod")).toMatchObject({ loadBalancer: "kubeadm-prod-api", serverGroup: "kubeadm-prod-api", securityGroup: "kubeadm-prod-api-lb", vswitch: "kubeadm-prod-api-lb" });
    expect(lbNames("kubeadm-prod").eip("secondary")).toBe("kubeadm-prod-api-secondary");
    expect(() => lbNames("1cluster-prod")).toThrow(/must start with a letter/);
  });

  test("SANs: private and public addresses, then the DNS name; no duplicates", () => {
    expect(lbCertSans(["10.0.0.250", "10.0.1.250"], ["1.2.3.4", "1.2.3.4"], "x.nlb")).toEqual(["10.0.0.250", "10.0.1.250", "1.2.3.4", "x.nlb"]);
    expect(lbCertSans(["10.0.0.250"], [])).toEqual(["10.0.0.250"]);
  });

  test("security rules: admin CIDR and VPC accepted on 6443 (priority 1), the rest dropped (priority 100)", () => {
    expect(lbSecurityGroupRules(a).map((r) => `${r.policy} ${r.ipProtocol} ${r.portRange} ${r.cidrIp} ${r.priority}`)).toEqual([
      `accept tcp 6443/6443 ${a.adminCidr} 1`,
      "accept tcp 6443/6443 172.16.0.0/16 1",
      "drop all -1/-1 0.0.0.0/0 100",
    ]);
    expect(HEALTH_CHECK.healthCheckType).toBe("TCP");
  });

  test("the lifecycle rule model knows the new types' ForceNew inputs", () => {
    for (const [type, keys] of Object.entries(LB_FORCE_NEW)) expect(FORCE_NEW[type]).toEqual(keys);
  });
});

describe("day 2 (the lifecycle rule model)", () => {
  const LB_NAMES = (rs: readonly RecordedResource[]) => new Set([LB, ...lbChildren(rs)]);
  let base: RecordedResource[];
  beforeAll(async () => {
    base = (await run(haSpec(), { endpointIp: ENDPOINT })).resources;
  });
  const plan = (a: readonly RecordedResource[], b: readonly RecordedResource[]) => planTransition(a, b);
  /** Actions on the LB component's resources that are not "same". */
  const lbChanges = (p: Map<string, Planned>, names: Set<string>) =>
    [...p.values()].filter((x) => names.has(x.name) && x.action !== "same").map((x) => `${x.action} ${x.name}${x.why.length ? ` (${x.why.join(",")})` : ""}`).sort();
  /** What the engine keeps for the vSwitches (ignoreChanges): their zones as first created. */
  const kept = (rs: readonly RecordedResource[]) => Object.fromEntries(of(rs, T.vswitch).map((v) => [v.name, String(v.inputs.zoneId)]));

  test("[lb-new-image-zones] a newer Ubuntu image and new zone lists (ECS and NLB) change nothing", async () => {
    // The vSwitches keep their first zone (ignoreChanges), so the engine hands the program their stored
    // outputs; the NLB's zone mappings read those. Without keptZones the mock would echo the new zones
    // and the model would (wrongly for a real `up`) report an NLB update.
    const after = (await run(haSpec(), { endpointIp: ENDPOINT }, { image: "ubuntu_22_04_x64_20G_alibase_20270101.vhd", ecsZone: "cn-hangzhou-i", nlbZones: ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-k"], keptZones: kept(base) })).resources;
    const p = byAction(plan(base, after));
    expect({ ...p, same: [] }).toEqual({ create: [], delete: [], update: [], replace: [], same: [] });
  });

  test("[lb-remove-cp] removing a control plane deletes only its attachment (and its instance and host key)", async () => {
    const after = (await run(haSpec({ nodes: [cp(1), cp(2), w(1), w(2)] }), { endpointIp: ENDPOINT })).resources;
    const p = byAction(plan(base, after));
    expect(p.delete).toEqual([`${LB}-cp-3`, "kubeadm-cp-3-ecs", "kubeadm-cp-3-host-key"].sort());
    expect([...p.create, ...p.update, ...p.replace]).toEqual([]);
  });

  test("[lb-add-cp] adding control planes creates only their attachments (and instances and host keys)", async () => {
    const after = (await run(haSpec({ nodes: haNodes(5) }), { endpointIp: ENDPOINT })).resources;
    const p = byAction(plan(base, after));
    expect(p.create).toEqual([`${LB}-cp-4`, `${LB}-cp-5`, "kubeadm-cp-4-ecs", "kubeadm-cp-4-host-key", "kubeadm-cp-5-ecs", "kubeadm-cp-5-host-key"].sort());
    expect([...p.delete, ...p.update, ...p.replace]).toEqual([]);
  });

  test("[lb-cp-rebuilt] a rebuilt control-plane instance (aliyun.imageId) gets a new attachment; the NLB stays", async () => {
    const pinned = (id: string) => haSpec({ aliyun: { imageId: id } });
    const before = (await run(pinned("m-old"), { endpointIp: ENDPOINT })).resources;
    const after = (await run(pinned("m-new"), { endpointIp: ENDPOINT })).resources;
    const p = plan(before, after);
    expect(lbChanges(p, LB_NAMES(after))).toEqual([`replace ${LB}-cp-1 (serverId)`, `replace ${LB}-cp-2 (serverId)`, `replace ${LB}-cp-3 (serverId)`]);
  });

  test("[lb-unrelated] an edit the load balancer does not use (instance type, disk size, a worker) touches nothing of it", async () => {
    for (const s of [haSpec({ aliyun: { instanceType: "ecs.c7.xlarge", systemDiskSizeGb: 80 } }), haSpec({ nodes: haNodes(3, 3) }), haSpec({ nodes: haNodes(3, 1) })]) {
      const after = (await run(s, { endpointIp: ENDPOINT })).resources;
      expect(lbChanges(plan(base, after), LB_NAMES(after))).toEqual([]);
    }
  });

  test("[lb-admin-cidr] a new admin CIDR replaces only the NLB group's admin rule (and the nodes' own admin rules)", async () => {
    const after = (await run(haSpec({ aliyun: { adminCidr: "198.18.0.2/32" } }), { endpointIp: ENDPOINT })).resources;
    expect(lbChanges(plan(base, after), LB_NAMES(after))).toEqual([`replace ${LB}-sg-admin (cidrIp)`]);
  });

  test("[lb-bandwidth] a new public bandwidth updates the EIPs in place", async () => {
    const after = (await run(haSpec({ aliyun: { internetMaxBandwidthOut: 20 } }), { endpointIp: ENDPOINT })).resources;
    expect(lbChanges(plan(base, after), LB_NAMES(after))).toEqual([`update ${LB}-eip-primary (bandwidth)`, `update ${LB}-eip-secondary (bandwidth)`]);
  });

  test("[lb-go-private] bandwidth 0: the NLB is updated to Intranet (not replaced) and the EIPs are deleted", async () => {
    const after = (await run(haSpec({ aliyun: { internetMaxBandwidthOut: 0 } }), { endpointIp: ENDPOINT })).resources;
    expect(lbChanges(plan(base, after), LB_NAMES(base))).toEqual([`delete ${LB}-eip-primary`, `delete ${LB}-eip-secondary`, `update ${LB}-nlb (addressType,zoneMappings)`]);
  });

  test("[lb-never-replaced] no routine change replaces or deletes the NLB, its server group or its listener", async () => {
    const edits: ClusterSpec[] = [
      haSpec({ aliyun: { imageId: "m-new" } }),
      haSpec({ aliyun: { instanceType: "ecs.g7.large", spotStrategy: "SpotAsPriceGo" } }),
      haSpec({ aliyun: { adminCidr: "198.18.0.9/32", internetMaxBandwidthOut: 50 } }),
      haSpec({ nodes: haNodes(5, 4) }),
      haSpec({ nodes: [cp(1), w(1)] }),
    ];
    for (const s of edits) {
      const after = (await run(s, { endpointIp: ENDPOINT })).resources;
      const p = plan(base, after);
      for (const n of [`${LB}-nlb`, `${LB}-group`, `${LB}-listener`, `${LB}-vswitch`, `${LB}-sg`]) expect(["same", "update"]).toContain(p.get(`${one(after, n).type}::${n}`)?.action);
    }
  });

  test("docs/machines.md has a day-2 row for every [lb-*] scenario here, and no other", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "machines.md"), "utf8");
    const here = [...fs.readFileSync(__filename, "utf8").matchAll(/test\("\[(lb-[a-z-]+)\]/g)].map((m) => m[1]).sort();
    const rows = [...doc.matchAll(/^\| `\[(lb-[a-z-]+)\]`/gm)].map((m) => m[1]).sort();
    expect(here.length).toBeGreaterThan(5);
    expect(rows).toEqual(here);
  });

  test("[lb-destroy] delete order: attachments before their instances, the NLB after the control planes, the listener before the NLB", () => {
    // Pulumi deletes a resource only after everything that depends on it.
    const deps = (n: string) => new Set([...one(base, n).dependsOn, ...Object.values(one(base, n).propertyDependencies).flat()]);
    for (let i = 1; i <= 3; i++) {
      expect(deps(`${LB}-cp-${i}`).has(`kubeadm-cp-${i}-ecs`)).toBe(true);
      expect(deps(`${LB}-nlb`).has(`kubeadm-cp-${i}-ecs`)).toBe(true);
    }
    expect(deps(`${LB}-listener`).has(`${LB}-nlb`)).toBe(true);
    expect(deps(`${LB}-listener`).has(`${LB}-group`)).toBe(true);
    for (const n of [`${LB}-vswitch`, `${LB}-sg`, `${LB}-eip-primary`, `${LB}-eip-secondary`]) expect(deps(`${LB}-nlb`).has(n)).toBe(true);
  });
});
