// The rule model behind docs/lifecycle.md and `npm run render -- --upgrade-from`: given what the
// program registers before and after a change (two runs under mocks), what the engine and the providers
// will do to each resource. One small place, each rule with the source it follows; test/lifecycle.test.ts
// holds every row of the table to it.
//
// Engine (pulumi/pkg v3.248.0, resource/deploy/step_generator.go):
//   - a resource only in the new program is created, one only in the old state is deleted;
//   - ignoreChanges resets those paths to the old inputs before diffing, for updates and replacements
//     alike (processIgnoreChanges, called whenever old state exists);
//   - replaceOnChanges paths that changed force a replacement ("*" = any input);
//   - `replaceWith`: replaced when a listed resource is replaced (diff(): "marked for replacement
//     because ... in its ReplaceWith list is being replaced");
//   - a resource whose provider is replaced is replaced (providerChanged -> ReplaceKeys ["provider"]).
// Providers:
//   - pulumi-command (remote/local commandController.go): `triggers` is replaceOnChanges (common/inputs.go);
//     any other input change is an update, which runs `update` or else `create` again;
//   - pulumi-kubernetes provider.go DiffConfig: the provider is replaced only when clusterIdentifier
//     changes from one value to another (diff.Updated); a kubeconfig change under the same identifier is
//     an update. Objects: a change of metadata.name/namespace replaces, others update (server-side apply);
//   - @pulumi/tls, @pulumi/random: every input is ForceNew (replace);
//   - terraform-provider-alicloud (resource schemas, ForceNew): FORCE_NEW below; imageId is ForceNew only
//     when the provider sets features.ecsInstance.replaceOnImageUpdate (our provider does).
import { RecordedResource } from "../../test/harness";
import { LB_FORCE_NEW } from "../../components/machines/aliyun-lb-plan";

export type Action = "create" | "delete" | "update" | "replace" | "same";

export interface Planned {
  readonly type: string;
  readonly name: string;
  readonly action: Action;
  /** Why: the changed input keys, or the rule that replaced it. */
  readonly why: readonly string[];
}

/** Inputs whose change replaces the resource, per type (provider schemas). */
export const FORCE_NEW: Readonly<Record<string, readonly string[]>> = {
  "alicloud:ecs/instance:Instance": ["systemDiskCategory", "spotStrategy", "availabilityZone", "imageId"],
  "alicloud:vpc/switch:Switch": ["zoneId", "cidrBlock", "vpcId"],
  "alicloud:vpc/network:Network": ["cidrBlock"],
  "alicloud:ecs/ecsKeyPair:EcsKeyPair": ["keyPairName", "publicKey"],
  "alicloud:ecs/securityGroup:SecurityGroup": ["vpcId", "securityGroupType"],
  "alicloud:ecs/securityGroupRule:SecurityGroupRule": ["type", "ipProtocol", "portRange", "cidrIp", "sourceSecurityGroupId", "nicType", "policy", "priority", "securityGroupId"],
  // The API load balancer (HA on Aliyun): components/machines/aliyun-lb-plan.ts, each with its source.
  ...LB_FORCE_NEW,
};

const key = (r: Pick<RecordedResource, "type" | "name">): string => `${r.type}::${r.name}`;

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Applies ignoreChanges: each path (`a`, `a.b`, `tags["x-y"]`) takes its old value, or is removed when the old had none. */
export function withIgnored(news: Record<string, unknown>, olds: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(news)) as Record<string, unknown>;
  for (const p of paths) {
    const parts = p.match(/[^.[\]"]+/g) ?? [];
    let n: Record<string, unknown> | undefined = out;
    let o: Record<string, unknown> | undefined = olds;
    for (const part of parts.slice(0, -1)) {
      n = n?.[part] as Record<string, unknown> | undefined;
      o = o?.[part] as Record<string, unknown> | undefined;
    }
    const last = parts[parts.length - 1];
    if (!n || last === undefined) continue;
    if (o && last in o) n[last] = JSON.parse(JSON.stringify(o[last]));
    else delete n[last];
  }
  return out;
}

function changedKeys(before: RecordedResource, after: RecordedResource): string[] {
  const news = withIgnored(after.inputs, before.inputs, after.ignoreChanges);
  const keys = new Set([...Object.keys(before.inputs), ...Object.keys(news)]);
  return [...keys].filter((k) => !equal(before.inputs[k], news[k])).sort();
}

/** The input keys whose change replaces `r` (provider rules and replaceOnChanges), among `changed`. */
function replacing(r: RecordedResource, changed: readonly string[]): string[] {
  if (r.replaceOnChanges.includes("*")) return [...changed];
  const roc = r.replaceOnChanges.map((p) => p.split(/[.[]/)[0]);
  const force = new Set<string>([...roc, ...(FORCE_NEW[r.type] ?? [])]);
  if (r.type.startsWith("command:")) force.add("triggers");
  if (r.type.startsWith("tls:") || r.type.startsWith("random:")) return [...changed];
  if (r.type.startsWith("kubernetes:") && changed.includes("metadata")) {
    return []; // handled by the caller (name/namespace only)
  }
  return changed.filter((k) => force.has(k));
}

function k8sIdentityChanged(before: RecordedResource, after: RecordedResource): boolean {
  const m = (r: RecordedResource) => r.inputs.metadata as { name?: string; namespace?: string } | undefined;
  return m(before)?.name !== m(after)?.name || m(before)?.namespace !== m(after)?.namespace;
}

/** What `pulumi up` does to each custom resource when the program goes from `before` to `after`. */
export function planTransition(before: readonly RecordedResource[], after: readonly RecordedResource[]): Map<string, Planned> {
  const olds = new Map(before.filter((r) => r.custom).map((r) => [key(r), r]));
  const news = after.filter((r) => r.custom);
  const out = new Map<string, Planned>();
  // Registration order puts a resource after what it depends on, so a replacement is known before
  // anything that follows it through replaceWith or its provider.
  for (const r of news) {
    const old = olds.get(key(r));
    if (!old) {
      out.set(key(r), { type: r.type, name: r.name, action: "create", why: [] });
      continue;
    }
    const replacedBy = r.replaceWith.filter((t) => [...out.values()].some((p) => p.name === t && p.action === "replace"));
    const providerReplaced = r.provider !== undefined && [...out.values()].some((p) => p.name === r.provider && p.type.startsWith("pulumi:providers:") && p.action === "replace");
    // An input computed from a replaced resource's outputs is unknown in the preview and new in the
    // update (a command's id is new on every create: pulumi-command resource.NewUniqueHex): counted as changed.
    const fromReplaced = Object.entries(r.propertyDependencies)
      .filter(([, srcs]) => srcs.some((t) => [...out.values()].some((p) => p.name === t && p.action === "replace" && !p.type.startsWith("pulumi:providers:"))))
      .map(([k]) => k);
    const changed = [...new Set([...changedKeys(old, r), ...fromReplaced])].sort();
    let action: Action = changed.length ? "update" : "same";
    let why: string[] = changed;
    if (r.type === "pulumi:providers:kubernetes") {
      const a = old.inputs.clusterIdentifier;
      const b = r.inputs.clusterIdentifier;
      if (a !== undefined && b !== undefined && a !== b) action = "replace";
    } else if (providerReplaced) {
      action = "replace";
      why = [`provider ${r.provider} replaced`];
    } else if (replacedBy.length) {
      action = "replace";
      why = replacedBy.map((t) => `replaceWith ${t}`);
    } else {
      const forcing = replacing(r, changed);
      if (forcing.length || (r.type.startsWith("kubernetes:") && changed.includes("metadata") && k8sIdentityChanged(old, r))) {
        action = "replace";
        why = forcing.length ? forcing : ["metadata.name/namespace"];
      }
    }
    out.set(key(r), { type: r.type, name: r.name, action, why });
  }
  const present = new Set(news.map(key));
  for (const [k, r] of olds) if (!present.has(k)) out.set(k, { type: r.type, name: r.name, action: "delete", why: [] });
  return out;
}

/** Names per action (sorted), for compact assertions. */
export function byAction(plan: ReadonlyMap<string, Planned>): Record<Action, string[]> {
  const out: Record<Action, string[]> = { create: [], delete: [], update: [], replace: [], same: [] };
  for (const p of plan.values()) out[p.action].push(p.name);
  for (const k of Object.keys(out) as Action[]) out[k].sort();
  return out;
}
