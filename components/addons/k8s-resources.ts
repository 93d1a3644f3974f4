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

/** Creates the typed resource for `obj`, named `${component}-<kind>-<name>`, with the given options. */
export function createResource(component: string, obj: AddonObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = resourceName(component, obj);
  const metadata = obj.metadata;
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
