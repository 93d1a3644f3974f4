// Stacks deployed by v0.1 (before the cluster was one component) have every resource at the top of
// the stack, named without the cluster prefix: `urn:...::kubeadm:node:Worker::k8s-worker`. The same
// resources now live under `kubeadm:index:Cluster` and carry the prefix (`kubeadm-k8s-worker`). This
// pure mapping gives the v0.1 URN of any resource the component creates, so it can be passed as an
// alias and the engine treats the old and new URN as one resource (no replacement). Engine rule:
// an alias URN that exists in state is adopted (pulumi/pkg resource/deploy/step_generator.go,
// `generateAliases`/`sg.aliased`).

/** The component type of the cluster; it did not exist in v0.1, so it is left out of v0.1 type chains. */
export const CLUSTER_TYPE = "kubeadm:index:Cluster";

/** v0.1 named the machines component and its own children `<clusterName>-machines[-...]` already. */
const KEPT_TYPES_UNDER_MACHINES = new Set([
  "kubeadm:vm:VirtualBoxMachines",
  "kubeadm:vm:AliyunMachines",
  "pulumi:providers:alicloud",
  "alicloud:vpc/network:Network",
  "alicloud:vpc/switch:Switch",
  "alicloud:ecs/securityGroup:SecurityGroup",
  "alicloud:ecs/securityGroupRule:SecurityGroupRule",
  "alicloud:ecs/ecsKeyPair:EcsKeyPair",
]);

/** The v0.1 name of a resource now named `name` inside cluster `clusterName`. */
export function v1Name(clusterName: string, type: string, name: string): string {
  const machines = `${clusterName}-machines`;
  if ((name === machines || name.startsWith(`${machines}-`)) && KEPT_TYPES_UNDER_MACHINES.has(type)) return name;
  const prefix = `${clusterName}-`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** `urn:pulumi:<stack>::<project>::<type chain>::<name>`, the engine's URN format. */
export function urn(stack: string, project: string, typeChain: readonly string[], name: string): string {
  return `urn:pulumi:${stack}::${project}::${typeChain.join("$")}::${name}`;
}

/** A resource's type chain without the cluster component (v0.1 had none). */
export function v1TypeChain(chain: readonly string[]): string[] {
  return chain.filter((t) => t !== CLUSTER_TYPE);
}
