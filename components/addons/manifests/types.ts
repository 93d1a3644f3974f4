// Plain Kubernetes object types produced by the add-on builders. The builders are pure (no Pulumi
// resources, no Outputs): the components turn each object into a typed @pulumi/kubernetes resource,
// tests validate them against the API schema, and the offline renderer writes them as YAML.
//
// The spec/rules/... fields use @pulumi/kubernetes' own input types, so a misspelled field in a builder
// is a compile error (excess property check), and the object can be handed to the resource as is.
// Type-only import: loading a builder never loads the Kubernetes SDK.
import type * as k8s from "@pulumi/kubernetes";


/** Object metadata the builders set: a fixed name (what users type), never Pulumi auto-naming. */
export interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Any object the builders return (what the renderer and the schema tests consume). */
export type K8sObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Meta;
} & Readonly<Record<string, unknown>>;

export type NamespaceObject = { apiVersion: "v1"; kind: "Namespace"; metadata: Meta };
export type ServiceAccountObject = { apiVersion: "v1"; kind: "ServiceAccount"; metadata: Meta };
export type ConfigMapObject = { apiVersion: "v1"; kind: "ConfigMap"; metadata: Meta; data: Record<string, string> };
export type ServiceObject = { apiVersion: "v1"; kind: "Service"; metadata: Meta; spec: k8s.types.input.core.v1.ServiceSpec };
export type PodObject = { apiVersion: "v1"; kind: "Pod"; metadata: Meta; spec: k8s.types.input.core.v1.PodSpec };
export type ClusterRoleObject = {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "ClusterRole";
  metadata: Meta;
  rules: k8s.types.input.rbac.v1.PolicyRule[];
};
type Binding = { roleRef: k8s.types.input.rbac.v1.RoleRef; subjects: k8s.types.input.rbac.v1.Subject[] };
export type ClusterRoleBindingObject = { apiVersion: "rbac.authorization.k8s.io/v1"; kind: "ClusterRoleBinding"; metadata: Meta } & Binding;
export type RoleBindingObject = { apiVersion: "rbac.authorization.k8s.io/v1"; kind: "RoleBinding"; metadata: Meta } & Binding;
export type DaemonSetObject = { apiVersion: "apps/v1"; kind: "DaemonSet"; metadata: Meta; spec: k8s.types.input.apps.v1.DaemonSetSpec };
export type DeploymentObject = { apiVersion: "apps/v1"; kind: "Deployment"; metadata: Meta; spec: k8s.types.input.apps.v1.DeploymentSpec };
export type APIServiceObject = {
  apiVersion: "apiregistration.k8s.io/v1";
  kind: "APIService";
  metadata: Meta;
  spec: k8s.types.input.apiregistration.v1.APIServiceSpec;
};
export type HorizontalPodAutoscalerObject = {
  apiVersion: "autoscaling/v2";
  kind: "HorizontalPodAutoscaler";
  metadata: Meta;
  spec: k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec;
};

/** Every kind the add-ons create (a discriminated union on `kind`, so resource creation is exhaustive). */
export type AddonObject =
  | NamespaceObject
  | ServiceAccountObject
  | ConfigMapObject
  | ServiceObject
  | PodObject
  | ClusterRoleObject
  | ClusterRoleBindingObject
  | RoleBindingObject
  | DaemonSetObject
  | DeploymentObject
  | APIServiceObject
  | HorizontalPodAutoscalerObject;

/** kubectl short names: keep Pulumi resource names short and readable in `pulumi up`. */
const SHORT_KIND: Record<AddonObject["kind"], string> = {
  Namespace: "ns",
  ServiceAccount: "sa",
  ConfigMap: "cm",
  Service: "svc",
  Pod: "pod",
  ClusterRole: "cr",
  ClusterRoleBinding: "crb",
  RoleBinding: "rb",
  DaemonSet: "ds",
  Deployment: "deploy",
  APIService: "apiservice",
  HorizontalPodAutoscaler: "hpa",
};

/**
 * Pulumi resource name of an object created by component `component`: `${component}-<kind>-<name>`,
 * e.g. `flannel-ds-kube-flannel-ds`. Colons (RBAC names like `system:metrics-server`) become dashes.
 * Object names are unique per kind and namespace inside one add-on, so these names are unique too.
 */
export function resourceName(component: string, obj: Pick<AddonObject, "kind" | "metadata">): string {
  return `${component}-${SHORT_KIND[obj.kind]}-${obj.metadata.name.replace(/:/g, "-")}`;
}
