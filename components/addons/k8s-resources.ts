// Turns a plain add-on object into the matching typed @pulumi/kubernetes resource. Shared by the
// Flannel, MetricsServer and DemoApp components so they only wire resources.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { AddonObject, resourceName } from "./manifests/types";

/**
 * The Kubernetes provider a component must pass to every child. Required: without it, resources would
 * go to the default provider, i.e. whatever cluster the user's current kubectl context points at.
 */
export function requireProvider(component: string, opts: pulumi.ComponentResourceOptions | undefined): pulumi.ProviderResource {
  const provider = opts?.provider;
  if (!provider) {
    throw new Error(`${component}: pass the cluster's k8s.Provider as { provider } (refusing to use the default kubeconfig context)`);
  }
  return provider;
}

/**
 * The component's own dependsOn, as a list to put on its children (a component's dependsOn does not
 * reach its children: PULUMI-NOTES §2.4). Only plain values are supported; that is all callers pass.
 */
export function ownDependsOn(component: string, opts: pulumi.ComponentResourceOptions | undefined): pulumi.Resource[] {
  const d = opts?.dependsOn;
  if (d === undefined) return [];
  if (pulumi.Resource.isInstance(d)) return [d];
  if (Array.isArray(d) && d.every((r) => pulumi.Resource.isInstance(r))) return d as pulumi.Resource[];
  throw new Error(`${component}: dependsOn must be a Resource or an array of Resources`);
}

/**
 * pulumi-kubernetes deletes with Foreground propagation unless this annotation says otherwise
 * (provider/pkg/metadata/overrides.go, DeletionPropagation: "orphan" | "background"; anything else =
 * foreground). Foreground waits for every pod to be gone, and a pod on a dead node never goes: removing
 * an add-on would hang until the delete timeout. Background returns at once; the garbage collector
 * removes the pods.
 */
export const BACKGROUND_DELETION = { "pulumi.com/deletionPropagationPolicy": "background" } as const;

/** Kinds that own pods (their deletion would wait for those pods under Foreground propagation). */
const WORKLOAD_KINDS = new Set<AddonObject["kind"]>(["DaemonSet", "Deployment"]);

/** The metadata Pulumi sends: the object's own, plus background deletion for workloads. */
export function metadataFor(obj: AddonObject): AddonObject["metadata"] {
  if (!WORKLOAD_KINDS.has(obj.kind)) return obj.metadata;
  return { ...obj.metadata, annotations: { ...(obj.metadata.annotations ?? {}), ...BACKGROUND_DELETION } };
}

/**
 * Options every add-on object gets, given the resource whose replacement means a new cluster
 * (ControlPlane.cluster, the `kubeadm init` command):
 *  - replaceWith: a new cluster gets new objects. The provider is only updated with the new kubeconfig
 *    (its clusterIdentifier stays, so DiffConfig does not replace it: pulumi-kubernetes provider.go
 *    DiffConfig, `diff.Same(clusterIdentifierKey)` -> no Replaces), and a resource's Diff compares
 *    with stored state only: without this, objects of the old cluster would stay "unchanged" and never
 *    be created in the new one. The engine replaces a resource whose replaceWith target is replaced
 *    (pkg/resource/deploy/step_generator.go diff(), "marked for replacement because ... ReplaceWith").
 *  - deleteBeforeReplace: fixed names; an engine-forced replacement skips the provider's own
 *    delete-first decision, and create-then-delete would delete the new object by name.
 *  - deletedWith: when the cluster itself goes (destroy), its objects go with it; no API call that
 *    could wait on a dead node or an unreachable cluster.
 */
export function lifecycleOptions(cluster: pulumi.Resource | undefined): pulumi.CustomResourceOptions {
  return cluster ? { deleteBeforeReplace: true, replaceWith: [cluster], deletedWith: cluster } : { deleteBeforeReplace: true };
}

export interface AddonLifecycle {
  /** ControlPlane.cluster: the resource whose replacement means a new cluster. */
  readonly cluster?: pulumi.Resource;
  /** How long Pulumi waits for a workload to become ready, e.g. "20m" (default: the provider's 10m). */
  readonly readyTimeout?: string;
}

/** Kinds Pulumi waits on after create/update (pulumi-kubernetes await: rollout, pods ready, Available). */
const AWAITED_KINDS = new Set<AddonObject["kind"]>(["DaemonSet", "Deployment", "Pod", "APIService"]);

/** customTimeouts for objects Pulumi waits on, when a ready timeout is configured. */
export function waitTimeouts(obj: AddonObject, lifecycle: AddonLifecycle | undefined): pulumi.CustomResourceOptions {
  const t = lifecycle?.readyTimeout;
  return t && AWAITED_KINDS.has(obj.kind) ? { customTimeouts: { create: t, update: t } } : {};
}

/** Creates the typed resource for `obj`, named `${component}-<kind>-<name>`, with the given options. */
export function createResource(component: string, obj: AddonObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = resourceName(component, obj);
  const metadata = metadataFor(obj);
  switch (obj.kind) {
    case "Namespace":
      return new k8s.core.v1.Namespace(name, { metadata }, opts);
    case "ServiceAccount":
      return new k8s.core.v1.ServiceAccount(name, { metadata }, opts);
    case "ConfigMap":
      return new k8s.core.v1.ConfigMap(name, { metadata, data: obj.data }, opts);
    case "Service":
      return new k8s.core.v1.Service(name, { metadata, spec: obj.spec }, opts);
    case "Pod":
      return new k8s.core.v1.Pod(name, { metadata, spec: obj.spec }, opts);
    case "ClusterRole":
      return new k8s.rbac.v1.ClusterRole(name, { metadata, rules: obj.rules }, opts);
    case "ClusterRoleBinding":
      return new k8s.rbac.v1.ClusterRoleBinding(name, { metadata, roleRef: obj.roleRef, subjects: obj.subjects }, opts);
    case "RoleBinding":
      return new k8s.rbac.v1.RoleBinding(name, { metadata, roleRef: obj.roleRef, subjects: obj.subjects }, opts);
    case "DaemonSet":
      return new k8s.apps.v1.DaemonSet(name, { metadata, spec: obj.spec }, opts);
    case "Deployment":
      return new k8s.apps.v1.Deployment(name, { metadata, spec: obj.spec }, opts);
    case "APIService":
      return new k8s.apiregistration.v1.APIService(name, { metadata, spec: obj.spec }, opts);
    case "HorizontalPodAutoscaler":
      return new k8s.autoscaling.v2.HorizontalPodAutoscaler(name, { metadata, spec: obj.spec }, opts);
  }
}
