// The seed runbook's demo workload (Pod, Deployment, Service, HPA) as typed Kubernetes resources.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { demoManifest, DemoSettings } from "./manifests/demo";
import { AddonLifecycle, createResource, lifecycleOptions, ownDependsOn, requireProvider, waitTimeouts } from "./k8s-resources";

export interface DemoAppArgs {
  readonly spec: DemoSettings;
  /** How the objects live and die with the cluster (replaceWith/deletedWith the cluster, wait timeouts). */
  readonly lifecycle?: AddonLifecycle;
  /**
   * Resources the workload must wait for: the flannel DaemonSet (pods need a network), the
   * metrics-server Deployment/APIService (the HPA needs metrics), and the joined workers (the control
   * plane is tainted, so the pods need a worker). Put on every child explicitly.
   */
  readonly dependsOn: pulumi.Resource[];
}

export class DemoApp extends pulumi.ComponentResource {
  /** `test-service` (ClusterIP); export `service.spec.clusterIP`. */
  public readonly service: k8s.core.v1.Service;
  public readonly deployment: k8s.apps.v1.Deployment;

  /** Construct only when spec.demo.enabled (the caller decides; a disabled demo has no Service to expose). */
  constructor(name: string, args: DemoAppArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before registering anything, so a wiring mistake leaves no half-built component.
    if (!args.spec.demo.enabled) {
      throw new Error("DemoApp: spec.demo.enabled is false; do not construct the demo (gate it on spec.demo.enabled)");
    }
    const provider = requireProvider("DemoApp", opts);
    const waitFor = [...ownDependsOn("DemoApp", opts), ...args.dependsOn];
    super("kubeadm:addons:DemoApp", name, {}, opts);
    const m = demoManifest(args.spec);
    const child = (obj: Parameters<typeof createResource>[1], deps: pulumi.Resource[] = []) =>
      createResource(name, obj, { parent: this, provider, dependsOn: [...waitFor, ...deps], ...lifecycleOptions(args.lifecycle?.cluster), ...waitTimeouts(obj, args.lifecycle) });

    const ns = m.namespace ? [child(m.namespace)] : [];
    child(m.pod, ns);
    this.deployment = child(m.deployment, ns) as k8s.apps.v1.Deployment;
    this.service = child(m.service, ns) as k8s.core.v1.Service;
    // The HPA names its target by string; the explicit edge keeps it from scaling a missing Deployment.
    child(m.hpa, [...ns, this.deployment]);
    this.registerOutputs({ clusterIP: this.service.spec.clusterIP });
  }
}
