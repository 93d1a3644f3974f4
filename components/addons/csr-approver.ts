// kubelet-csr-approver as typed Kubernetes resources (objects from manifests/csr-approver.ts): approves
// the kubelets' serving certificate renewals for the life of the cluster.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { CsrApproverSettings, csrApproverManifest } from "./manifests/csr-approver";
import { AddonLifecycle, createResource, lifecycleOptions, ownDependsOn, requireProvider, waitTimeouts } from "./k8s-resources";

export interface KubeletCsrApproverArgs {
  readonly spec: CsrApproverSettings;
  /** How the objects live and die with the cluster (replaceWith/deletedWith the cluster, wait timeouts). */
  readonly lifecycle?: AddonLifecycle;
}

export class KubeletCsrApprover extends pulumi.ComponentResource {
  /** What dependents wait for: the Deployment (Pulumi waits for a ready replica). Empty when disabled. */
  public readonly ready: pulumi.Resource[];
  public readonly deployment?: k8s.apps.v1.Deployment;

  constructor(name: string, args: KubeletCsrApproverArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before registering anything, so a wiring mistake leaves no half-built component.
    const provider = requireProvider("KubeletCsrApprover", opts);
    const outer = ownDependsOn("KubeletCsrApprover", opts);
    super("kubeadm:addons:KubeletCsrApprover", name, {}, opts);
    if (!args.spec.kubeletCsrApprover.enabled) {
      this.ready = [];
      this.registerOutputs({});
      return;
    }
    const m = csrApproverManifest(args.spec);
    const child = (obj: Parameters<typeof createResource>[1], deps: pulumi.Resource[] = []) =>
      createResource(name, obj, { parent: this, provider, dependsOn: [...outer, ...deps], ...lifecycleOptions(args.lifecycle?.cluster), ...waitTimeouts(obj, args.lifecycle) });

    const sa = child(m.serviceAccount);
    const role = child(m.clusterRole);
    const binding = child(m.clusterRoleBinding, [sa, role]);
    this.deployment = child(m.deployment, [sa, binding]) as k8s.apps.v1.Deployment;
    this.ready = [this.deployment];
    this.registerOutputs({});
  }
}
