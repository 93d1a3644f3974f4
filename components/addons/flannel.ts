// Flannel CNI as typed Kubernetes resources (objects from manifests/flannel.ts).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { flannelManifest, FlannelSettings } from "./manifests/flannel";
import { AddonLifecycle, createResource, lifecycleOptions, ownDependsOn, requireProvider, waitTimeouts } from "./k8s-resources";

export interface FlannelArgs {
  readonly spec: FlannelSettings;
  /** How the objects live and die with the cluster (replaceWith/deletedWith the cluster, wait timeouts). */
  readonly lifecycle?: AddonLifecycle;
}

export class Flannel extends pulumi.ComponentResource {
  /** What dependents wait for: the DaemonSet (Pulumi waits for its rollout). Empty when flannel is disabled. */
  public readonly ready: pulumi.Resource[];
  public readonly daemonSet?: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: FlannelArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before registering anything, so a wiring mistake leaves no half-built component.
    const provider = requireProvider("Flannel", opts);
    const outer = ownDependsOn("Flannel", opts);
    super("kubeadm:addons:Flannel", name, {}, opts);
    if (!args.spec.flannel.enabled) {
      this.ready = [];
      this.registerOutputs({});
      return;
    }
    const m = flannelManifest(args.spec);
    const child = (obj: Parameters<typeof createResource>[1], deps: pulumi.Resource[] = []) =>
      createResource(name, obj, { parent: this, provider, dependsOn: [...outer, ...deps], ...lifecycleOptions(args.lifecycle?.cluster), ...waitTimeouts(obj, args.lifecycle) });

    const ns = child(m.namespace);
    const clusterRole = child(m.clusterRole);
    const binding = child(m.clusterRoleBinding, [clusterRole]);
    const sa = child(m.serviceAccount, [ns]);
    const cm = child(m.configMap, [ns]);
    // Pods start with their ServiceAccount, RBAC and config already in place.
    this.daemonSet = child(m.daemonSet, [ns, sa, cm, clusterRole, binding]) as k8s.apps.v1.DaemonSet;
    this.ready = [this.daemonSet];
    this.registerOutputs({});
  }
}
