// The `aliyun` block (provider aliyun only): region, image, VPC and vSwitch, who may reach the cluster,
// disks, bandwidth and billing; and the machine network (the vSwitch) it gives the nodes.
import { Cidr, cidrContainsCidr, formatIpv4, lastAddress, mustParseCidr, parseCidr, parseIpv4, unroutableSource } from "../net";
import { AliyunSpec } from "../spec";
import { MachineNet, machineNetIn } from "./nodes";
import { Block, Problems, readCidr } from "./reader";

/** `{ [k]: v }` when v is set, else `{}` (for optional spec fields). */
function optional<K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, V>);
}

export interface AliyunRead {
  readonly spec: AliyunSpec;
  readonly vpc?: Cidr;
  readonly vswitch?: Cidr;
}

const DISK_CATEGORIES = ["cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry"] as const;
const DEFAULT_VSWITCH_CIDR = "172.16.1.0/24";

export function readAliyun(b: Block, probs: Problems): AliyunRead {
  const { region, zone } = readRegionZone(b, probs);
  const imageId = b.str("imageId", undefined);
  const imageNameRegex = b.str("imageNameRegex", "^ubuntu_22_04_x64_20G_alibase_", (s) => {
    try {
      new RegExp(s);
      return undefined;
    } catch (e) {
      return `not a valid regular expression (${(e as Error).message})`;
    }
  });
  const { vpcText, vpc, vswText, vswitch } = readVpc(b, probs);
  const adminCidr = readAdminCidr(b, probs);
  const spec: AliyunSpec = {
    region,
    ...(zone !== undefined ? { zone } : {}),
    instanceType: b.str("instanceType", "ecs.c7.large", (s) => (/^ecs\.[a-z0-9-]+\.[a-z0-9-]+$/.test(s) ? undefined : 'not an ECS instance type; e.g. "ecs.c7.large"')),
    ...(imageId !== undefined ? { imageId } : {}),
    imageNameRegex,
    vpcCidr: vpc ? vpc.text : vpcText,
    vswitchCidr: vswitch ? vswitch.text : vswText,
    adminCidr: adminCidr ?? "",
    systemDiskCategory: b.oneOf("systemDiskCategory", "cloud_essd", DISK_CATEGORIES),
    systemDiskSizeGb: b.int("systemDiskSizeGb", 40, { min: 20, max: 500 }),
    internetMaxBandwidthOut: b.int("internetMaxBandwidthOut", 10, { min: 0, max: 100, hint: "Mbps; 0 = no public IP" }),
    internetChargeType: b.oneOf("internetChargeType", "PayByTraffic", ["PayByTraffic", "PayByBandwidth"] as const),
    instanceChargeType: b.oneOf("instanceChargeType", "PostPaid", ["PostPaid", "PrePaid"] as const),
    spotStrategy: b.oneOf("spotStrategy", "NoSpot", ["NoSpot", "SpotAsPriceGo"] as const),
    // HA only (checked with the control-plane endpoint, config/ha.ts): the NLB's second zone's vSwitch.
    ...optional("lbVswitchCidr", b.str("lbVswitchCidr", undefined)),
    ...optional("keyPairName", b.str("keyPairName", undefined, (s) => (/^[A-Za-z][A-Za-z0-9._:-]{1,127}$/.test(s) ? undefined : 'not a key pair name (2-128 characters, starting with a letter; letters, digits, ".", "_", "-", ":")'))),
  };
  b.finish();
  return { spec, vpc, vswitch };
}

/** `aliyun.region` and `aliyun.zone`, which must be a zone of that region. */
function readRegionZone(b: Block, probs: Problems): { region: string; zone: string | undefined } {
  const region = b.str("region", "cn-hangzhou", (s) => (/^[a-z]{2,3}(-[a-z0-9]+)+$/.test(s) ? undefined : 'not a region id; e.g. "cn-hangzhou"'));
  const zone = b.str("zone", undefined, (s) => (/^[a-z]{2,3}(-[a-z0-9]+)+$/.test(s) ? undefined : 'not a zone id; e.g. "cn-hangzhou-i"'));
  if (zone !== undefined && !zone.startsWith(`${region}-`)) probs.bad(b.key("zone"), zone, `not a zone of aliyun.region "${region}"; use "${region}-<letter>" or remove it`);
  return { region, zone };
}

/** `aliyun.vpcCidr` and `aliyun.vswitchCidr`: the vSwitch inside the VPC, with room for the nodes. */
function readVpc(b: Block, probs: Problems): { vpcText: string; vpc?: Cidr; vswText: string; vswitch?: Cidr } {
  const { text: vpcText, cidr: vpc } = readCidr(b, "vpcCidr", "172.16.0.0/16");
  const { text: vswText, cidr: vswitch } = readCidr(b, "vswitchCidr", DEFAULT_VSWITCH_CIDR);
  if (vpc && vswitch && !cidrContainsCidr(vpc, vswitch)) {
    probs.bad(b.key("vswitchCidr"), vswText, `not inside aliyun.vpcCidr "${vpc.text}"; a vSwitch is a part of its VPC, e.g. "${formatIpv4(vpc.network + 256)}/24"`);
  }
  if (vswitch && vswitch.prefix > 29) probs.bad(b.key("vswitchCidr"), vswText, "too small; use /29 or larger, e.g. /24");
  return { vpcText, vpc, vswText, vswitch };
}

/** `aliyun.adminCidr`, required; the whole internet (/0) only with allowAdminFromAnywhere. Undefined when bad (reported). */
function readAdminCidr(b: Block, probs: Problems): string | undefined {
  const adminCidr = b.reqStr("adminCidr",
    'set the address you manage the cluster from, your public IP /32: pulumi config set --path aliyun.adminCidr "$(curl -s ifconfig.me)/32"',
    checkAdminCidr);
  const anywhere = b.bool("allowAdminFromAnywhere", false);
  const adminP = adminCidr === undefined ? undefined : parseCidr(adminCidr);
  if (adminCidr !== undefined && adminP?.ok && adminP.cidr.prefix === 0 && !anywhere) {
    probs.bad(b.key("adminCidr"), adminCidr, "opens SSH and the API server to the whole internet; use your own address/32, or set aliyun.allowAdminFromAnywhere: true if you really mean it");
    return undefined;
  }
  return adminCidr;
}

/** A single address, IPv6 (the documentation range 2001:db8::/32 included, RFC 3849) or a range no traffic comes from. */
export function checkAdminCidr(s: string): string | undefined {
  if (parseIpv4(s) !== undefined) return `a single address needs a prefix; write "${s}/32"`;
  const fix = 'use the public address you manage the cluster from, e.g. "$(curl -s ifconfig.me)/32"';
  if (/^2001:0?db8:/i.test(s)) return `is the IPv6 documentation range (RFC 3849), and adminCidr takes IPv4; ${fix}`;
  if (s.includes(":")) return `IPv6 is not supported here (the security group rules are IPv4); ${fix}`;
  const p = parseCidr(s);
  if (!p.ok) return p.reason;
  const special = unroutableSource(p.cidr);
  return special ? `lies in ${special}: no SSH client has that address, so every connection would time out after the machines were created (and billed); ${fix}` : undefined;
}

/** The vSwitch network node IPs must be inside, and the addresses in it Aliyun keeps for itself. */
export function aliyunMachineNet(al: AliyunRead | undefined): MachineNet {
  const why = "reserved by Aliyun (the first and the last three addresses of a vSwitch)";
  return machineNetIn(al?.vswitch, mustParseCidr(DEFAULT_VSWITCH_CIDR), "aliyun.vswitchCidr", (c) => {
    const last = lastAddress(c);
    return [[c.network, why], [last - 2, why], [last - 1, why], [last, why]];
  });
}
