// Kubernetes objects as plain YAML, one file per add-on, built from the registered `kubernetes:*`
// resources' inputs (what the provider would send to the API server, minus server-side defaults).
import * as yaml from "js-yaml";
import { RecordedResource } from "../../test/harness";
import { parentKey, resourceKey, sortKeysDeep } from "./model";

/** kubectl/Helm-style apply order: things others refer to come first. */
const KIND_ORDER = [
  "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodDisruptionBudget", "ServiceAccount", "Secret",
  "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
  "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Pod", "ReplicaSet", "Deployment",
  "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
];

export interface ManifestObject {
  readonly resource: RecordedResource;
  readonly object: Record<string, unknown>;
}

export function isKubernetesObject(r: RecordedResource): boolean {
  return r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:yaml");
}

/** File stem for an add-on component: flannel, metrics-server, demo, else the component name. */
export function addonFileStem(component: Pick<RecordedResource, "name" | "type"> | undefined): string {
  if (!component) return "other";
  const text = `${component.type} ${component.name}`.toLowerCase();
  if (text.includes("flannel")) return "flannel";
  if (text.includes("metrics")) return "metrics-server";
  if (text.includes("demo")) return "demo";
  return component.name.replace(/[^a-z0-9.-]+/gi, "-").toLowerCase();
}

/** The Kubernetes object a resource stands for: apiVersion, kind, metadata first, the rest sorted. */
export function toObject(r: RecordedResource): Record<string, unknown> {
  const inputs = sortKeysDeep(r.inputs) as Record<string, unknown>;
  const metadata = { ...((inputs.metadata as Record<string, unknown> | undefined) ?? {}) };
  // Pulumi auto-names objects without metadata.name (`<name>-<random suffix>`); show the stem.
  if (metadata.name === undefined) metadata.name = r.name.includes("/") ? r.name.split("/").pop() : r.name;
  const out: Record<string, unknown> = { apiVersion: inputs.apiVersion, kind: inputs.kind, metadata: sortKeysDeep(metadata) };
  for (const k of Object.keys(inputs)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    out[k] = r.secretInputs.includes(k) ? `<secret: ${k} of ${r.name}>` : inputs[k];
  }
  return out;
}

function kindRank(kind: unknown): number {
  const i = KIND_ORDER.indexOf(String(kind));
  return i < 0 ? KIND_ORDER.length : i;
}

/** Groups objects by their nearest `kubeadm:*` ancestor component; objects sorted in apply order. */
export function groupManifests(resources: readonly RecordedResource[]): Map<string, ManifestObject[]> {
  const components = new Map<string, RecordedResource>();
  for (const r of resources) if (!r.custom) components.set(resourceKey(r.type, r.name), r);
  const groups = new Map<string, ManifestObject[]>();
  for (const r of resources.filter(isKubernetesObject)) {
    let parent = components.get(parentKey(r, components));
    const seen = new Set<string>();
    while (parent && !parent.type.startsWith("kubeadm:") && !seen.has(parent.urn)) {
      seen.add(parent.urn);
      parent = components.get(parentKey(parent, components));
    }
    const stem = addonFileStem(parent);
    groups.set(stem, [...(groups.get(stem) ?? []), { resource: r, object: toObject(r) }]);
  }
  for (const objs of groups.values()) {
    objs.sort((a, b) => {
      const ka = kindRank(a.object.kind) - kindRank(b.object.kind);
      if (ka !== 0) return ka;
      const ma = a.object.metadata as Record<string, unknown>;
      const mb = b.object.metadata as Record<string, unknown>;
      const na = `${String(ma.namespace ?? "")}/${String(ma.name)}/${a.resource.name}`;
      const nb = `${String(mb.namespace ?? "")}/${String(mb.name)}/${b.resource.name}`;
      return na < nb ? -1 : na > nb ? 1 : 0;
    });
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A multi-document YAML file; each document says which Pulumi resource it comes from. */
export function manifestYaml(stem: string, objs: readonly ManifestObject[]): string {
  const head = `# ${stem}: Kubernetes objects the Pulumi program applies (from the registered resources' inputs).\n`;
  return head + objs
    .map((o) => `---\n# pulumi: ${o.resource.type} ${o.resource.name}\n${yaml.dump(o.object, { noRefs: true, lineWidth: -1 })}`)
    .join("");
}
