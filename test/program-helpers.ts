// Runs the real program (index.ts) under mocks with a stack file's config, for whole-graph tests.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { pulumiConfigMapFromStackFile, PROJECT } from "../components/config";
import { runMocked, RecordedResource, RunOptions } from "./harness";
import { substitutePlaceholders } from "../tools/render-lib/placeholders";

export const ROOT = path.join(__dirname, "..");

/**
 * Config of Pulumi.<stack>.yaml, keys without the project prefix (as runMocked takes them), with the
 * stack file's CHANGE-ME placeholders replaced the way `npm run render` does (pulumi up refuses them).
 */
export function stackConfig(stack: string, extra: Record<string, string> = {}): Record<string, string> {
  const map = pulumiConfigMapFromStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) if (k.startsWith(`${PROJECT}:`)) out[k.slice(PROJECT.length + 1)] = v;
  return { ...substitutePlaceholders(out).config, ...extra };
}

/** Answers the Aliyun data sources the way the real provider would (one zone, one image). */
export function aliyunCalls(token: string): Record<string, unknown> | undefined {
  if (token === "alicloud:index/getZones:getZones") return { zones: [{ id: "cn-hangzhou-i" }], ids: ["cn-hangzhou-i"] };
  // The NLB zones of the region (HA): the cluster's zone and a second one.
  if (token === "alicloud:nlb/getZones:getZones") return { zones: [{ id: "cn-hangzhou-i", zoneId: "cn-hangzhou-i" }, { id: "cn-hangzhou-j", zoneId: "cn-hangzhou-j" }], ids: ["cn-hangzhou-i", "cn-hangzhou-j"] };
  if (token === "alicloud:ecs/getImages:getImages")
    return { images: [{ id: "ubuntu_22_04_x64_20G_alibase_20260522.vhd", name: "ubuntu_22_04_x64_20G_alibase_20260522.vhd" }], ids: ["ubuntu_22_04_x64_20G_alibase_20260522.vhd"] };
  return undefined;
}

/** Gives ECS instances the addresses a cloud would assign. */
export function aliyunState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> | undefined {
  // The API load balancer's EIPs (HA): addresses a cloud would assign (TEST-NET-2).
  if (args.type === "alicloud:ecs/eipAddress:EipAddress") return { ...(args.inputs as Record<string, unknown>), ipAddress: args.name.endsWith("primary") ? "198.51.100.50" : "198.51.100.51" };
  if (args.type === "alicloud:ecs/instance:Instance") {
    const i = args.inputs as Record<string, unknown>;
    return { ...i, publicIp: "198.51.100.7", privateIp: i.privateIp };
  }
  return undefined;
}

export async function runProgram(stack: string, opts: Partial<RunOptions> = {}): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
  const { resources, value } = await runMocked(
    { config: stackConfig(stack), stack, call: aliyunCalls, state: aliyunState, ...opts },
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program registers resources on import, as under `pulumi up`
    () => require(path.join(ROOT, "index.ts")) as Record<string, unknown>,
  );
  return { resources, outputs: value };
}
