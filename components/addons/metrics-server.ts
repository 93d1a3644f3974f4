// metrics-server as typed Kubernetes resources (objects from manifests/metrics-server.ts).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { metricsServerManifest, MetricsServerSettings } from "./manifests/metrics-server";
import { AddonLifecycle, createResource, lifecycleOptions, ownDependsOn, requireProvider, waitTimeouts } from "./k8s-resources";

export interface MetricsServerArgs {
  readonly spec: MetricsServerSettings;
  /** How the objects live and die with the cluster (replaceWith/deletedWith the cluster, wait timeouts). */
  readonly lifecycle?: AddonLifecycle;
}

export class MetricsServer extends pulumi.ComponentResource {
  /**
   * What dependents wait for: the Deployment (Pulumi waits for a ready replica) and the APIService
   * (waits for condition Available, i.e. `kubectl top` works). Empty when metrics-server is disabled.
   */
  public readonly ready: pulumi.Resource[];
  public readonly deployment?: k8s.apps.v1.Deployment;
  public readonly apiService?: k8s.apiregistration.v1.APIService;

  constructor(name: string, args: MetricsServerArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before registering anything, so a wiring mistake leaves no half-built component.
    const provider = requireProvider("MetricsServer", opts);
    const outer = ownDependsOn("MetricsServer", opts);
    super("kubeadm:addons:MetricsServer", name, {}, opts);
    if (!args.spec.metricsServer.enabled) {
      this.ready = [];
      this.registerOutputs({});
      return;
    }
    const m = metricsServerManifest(args.spec);
    const child = (obj: Parameters<typeof createResource>[1], deps: pulumi.Resource[] = []) =>
      createResource(name, obj, { parent: this, provider, dependsOn: [...outer, ...deps], ...lifecycleOptions(args.lifecycle?.cluster), ...waitTimeouts(obj, args.lifecycle) });

    const sa = child(m.serviceAccount);
    const aggregated = child(m.aggregatedReader);
    const clusterRole = child(m.clusterRole);
    const authReader = child(m.authReader, [sa]);
    const authDelegator = child(m.authDelegator, [sa]);
    const binding = child(m.clusterRoleBinding, [sa, clusterRole]);
    const service = child(m.service);
    this.deployment = child(m.deployment, [sa, authReader, authDelegator, binding]) as k8s.apps.v1.Deployment;
    // Registered last so the aggregator does not report a missing backend while the pods start.
    this.apiService = child(m.apiService, [service, this.deployment, aggregated]) as k8s.apiregistration.v1.APIService;
    this.ready = [this.deployment, this.apiService];
    this.registerOutputs({});
  }
}
