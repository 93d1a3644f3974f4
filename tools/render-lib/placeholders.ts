// Deterministic stand-ins for what only a real `pulumi up` knows (cloud IDs and addresses, data
// source answers, a Service's ClusterIP) and a record of every secret the mocks hand out, so the
// render can prove none of them reaches a file.
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { defaultMockState, fakeHex } from "../../test/harness";

export interface KnownSecret {
  readonly value: string;
  readonly what: string;
}

function octet(seed: string, mod: number): number {
  return (parseInt(fakeHex(seed, 4), 16) % mod) + 1;
}

/**
 * Mock resource state: the harness defaults plus placeholders a real run would get from the cloud.
 * Every secret value handed out is pushed onto `secrets`.
 */
export function placeholderState(secrets: KnownSecret[]): (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> {
  return (args) => {
    const state = defaultMockState(args);
    const inputs = args.inputs as Record<string, unknown>;
    switch (args.type) {
      case "random:index/randomPassword:RandomPassword":
        secrets.push({ value: String(state.result), what: `random password ${args.name}` });
        break;
      case "random:index/randomBytes:RandomBytes":
        // The HA certificate key.
        secrets.push({ value: String(state.hex), what: `random key ${args.name}` }, { value: String(state.base64), what: `random key ${args.name}` });
        break;
      case "tls:index/privateKey:PrivateKey":
        for (const k of ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"]) {
          if (typeof state[k] === "string") secrets.push({ value: state[k] as string, what: `private key ${args.name}` });
        }
        break;
      case "command:remote:Command":
      case "command:local:Command":
        if (args.name.endsWith("-kubeconfig")) secrets.push({ value: String(state.stdout), what: "admin kubeconfig" });
        break;
      case "alicloud:ecs/instance:Instance":
        // TEST-NET-3 (RFC 5737): clearly not a real address.
        state.publicIp = state.publicIp ?? `203.0.113.${octet(`pub:${args.name}`, 254)}`;
        state.privateIp = state.privateIp ?? `172.16.0.${octet(`priv:${args.name}`, 254)}`;
        break;
      case "alicloud:ecs/eipAddress:EipAddress":
        // The API load balancer's public addresses (HA), TEST-NET-3 like the instances'.
        state.ipAddress = state.ipAddress ?? `203.0.113.${octet(`eip:${args.name}`, 254)}`;
        break;
      case "alicloud:nlb/loadBalancer:LoadBalancer":
        state.dnsName = state.dnsName ?? `nlb-placeholder.${String(inputs.loadBalancerName ?? "api")}.nlb.aliyuncs.com`;
        break;
      case "kubernetes:core/v1:Service": {
        const spec = { ...((inputs.spec as Record<string, unknown> | undefined) ?? {}) };
        if (spec.clusterIP === undefined) spec.clusterIP = `10.96.${octet(`svc:${args.name}`, 254)}.${octet(`svc2:${args.name}`, 254)}`;
        state.spec = spec;
        break;
      }
      default:
        break;
    }
    return state;
  };
}

/** Answers for invokes (data sources): deterministic placeholders with the real shape. */
export function placeholderCall(token: string, inputs: Record<string, unknown>): Record<string, unknown> | undefined {
  switch (token) {
    case "kubernetes:yaml:decode":
      // ConfigFile v1 decodes YAML through the provider; under mocks we decode it ourselves.
      return { result: yaml.loadAll(String(inputs.text ?? "")).filter((d) => d !== null && d !== undefined) };
    case "alicloud:index/getZones:getZones":
      return { id: "zones", ids: ["cn-placeholder-zone-a"], zones: [{ id: "cn-placeholder-zone-a", localName: "placeholder zone" }] };
    case "alicloud:nlb/getZones:getZones":
      // The API load balancer (HA) spans the cluster's zone and a second one.
      return {
        id: "nlb-zones",
        ids: ["cn-placeholder-zone-a", "cn-placeholder-zone-b"],
        zones: ["cn-placeholder-zone-a", "cn-placeholder-zone-b"].map((z) => ({ id: z, zoneId: z, localName: "placeholder zone" })),
      };
    case "alicloud:ecs/getImages:getImages":
      return {
        id: "images",
        ids: ["ubuntu_22_04_x64_20G_alibase_placeholder.vhd"],
        images: [{ id: "ubuntu_22_04_x64_20G_alibase_placeholder.vhd", name: "ubuntu_22_04_x64_20G_alibase_placeholder.vhd", imageId: "ubuntu_22_04_x64_20G_alibase_placeholder.vhd" }],
      };
    default:
      return undefined;
  }
}

/** What the render puts in place of a committed stack file's CHANGE-ME values, so it can show the cluster. */
export const RENDER_ADMIN_CIDR = "198.18.0.1/32";
const MARK = "CHANGE-ME";

export interface Substitution {
  /** Config key (top level), e.g. "aliyun". */
  readonly key: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Replaces the stack file's placeholders (config values containing CHANGE-ME, which `pulumi up`
 * refuses) with render stand-ins: a CIDR placeholder becomes RENDER_ADMIN_CIDR (RFC 2544's
 * benchmarking range: no real administrator's address), any other one the lowercase `change-me`.
 * Returns the new config and what was replaced, so the render can say so.
 */
export function substitutePlaceholders(config: Readonly<Record<string, string>>): { config: Record<string, string>; substitutions: Substitution[] } {
  const out: Record<string, string> = {};
  const substitutions: Substitution[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!value.includes(MARK)) {
      out[key] = value;
      continue;
    }
    const replaced = value.replace(new RegExp(`${MARK}/\\d{1,2}`, "g"), RENDER_ADMIN_CIDR).replace(new RegExp(MARK, "g"), "change-me");
    for (const m of value.match(new RegExp(`[^"\\s]*${MARK}[^"\\s]*`, "g")) ?? []) {
      substitutions.push({ key, from: m, to: m.replace(new RegExp(`${MARK}/\\d{1,2}`), RENDER_ADMIN_CIDR).replace(new RegExp(MARK, "g"), "change-me") });
    }
    out[key] = replaced;
  }
  return { config: out, substitutions };
}
