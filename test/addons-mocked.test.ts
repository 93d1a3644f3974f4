// The add-on components under Pulumi mocks, wired the way cluster.ts wires them: every Kubernetes
// resource goes to the cluster's provider (never a default provider / the user's kubectl context),
// what is registered is exactly what the schema tests validated, and the demo waits for flannel and
// metrics-server through dependencies.
import { metadataFor } from "../components/addons/k8s-resources";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Flannel } from "../components/addons/flannel";
import { MetricsServer } from "../components/addons/metrics-server";
import { DemoApp } from "../components/addons/demo-app";
import { flannelAddonObjects } from "../components/addons/manifests/flannel";
import { metricsServerAddonObjects } from "../components/addons/manifests/metrics-server";
import { demoAddonObjects } from "../components/addons/manifests/demo";
import { resourceName } from "../components/addons/manifests/types";
import { byName, dependsTransitively, RecordedResource, runMocked, valueOf } from "./harness";
import { devSpec } from "./fixtures";
import { plain } from "./k8s-schema";

const spec = devSpec();

/** Any custom resource will do as the thing a component waits for. */
class Marker extends pulumi.CustomResource {
  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super("test:index:Marker", name, {}, opts);
  }
}

let recs: RecordedResource[];
let serviceName: string;

beforeAll(async () => {
  const run = await runMocked({ config: {} }, () => {
    const parent = new pulumi.ComponentResource("kubeadm:index:Cluster", "cluster");
    // Stands in for the control plane: a dependsOn given to a component must reach its children.
    const controlPlane = new Marker("k8s-control-init", { parent });
    const provider = new k8s.Provider("k8s", { kubeconfig: pulumi.secret("apiVersion: v1\nkind: Config\n") }, { parent });
    const flannel = new Flannel("flannel", { spec }, { provider, parent, dependsOn: [controlPlane] });
    const metrics = new MetricsServer("metrics-server", { spec }, { provider, parent });
    const demo = new DemoApp("demo", { spec, dependsOn: [...flannel.ready, ...metrics.ready] }, { provider, parent });
    return { demo };
  });
  recs = run.resources;
  serviceName = (await valueOf(run.value.demo.service.metadata)).name ?? "";
});

const k8sResources = () => recs.filter((r) => r.type.startsWith("kubernetes:") && r.type !== "pulumi:providers:kubernetes");
const expected = () => [
  ...flannelAddonObjects(spec).map((o) => ({ component: "flannel", o })),
  ...metricsServerAddonObjects(spec).map((o) => ({ component: "metrics-server", o })),
  ...demoAddonObjects(spec).map((o) => ({ component: "demo", o })),
];

describe("add-on components under mocks", () => {
  it("registers one Kubernetes resource per builder object, named <component>-<kind>-<name>", () => {
    const names = k8sResources().map((r) => r.name).sort();
    expect(names).toEqual(expected().map(({ component, o }) => resourceName(component, o)).sort());
    expect(new Set(names).size).toBe(names.length);
  });

  it("gives every Kubernetes resource the cluster's provider explicitly; none uses a default provider", () => {
    const res = k8sResources();
    expect(res.length).toBe(6 + 9 + 4);
    for (const r of res) expect({ name: r.name, provider: r.provider }).toEqual({ name: r.name, provider: "k8s" });
    // The only Kubernetes provider registered is ours.
    expect(recs.filter((r) => r.type === "pulumi:providers:kubernetes").map((r) => r.name)).toEqual(["k8s"]);
  });

  it("registers exactly the validated objects (apiVersion, kind, metadata and body)", () => {
    for (const { component, o } of expected()) {
      const r = byName(recs, resourceName(component, o));
      expect(r.type).toBe(`kubernetes:${o.apiVersion.includes("/") ? o.apiVersion : `core/${o.apiVersion}`}:${o.kind}`);
      // Workloads carry background deletion (k8s-resources.ts metadataFor); everything else is the object as built.
      expect(r.inputs).toEqual(plain({ ...o, metadata: metadataFor(o) }));
      const annotations = (r.inputs.metadata as { annotations?: Record<string, string> }).annotations ?? {};
      expect(annotations["pulumi.com/deletionPropagationPolicy"]).toBe(o.kind === "DaemonSet" || o.kind === "Deployment" ? "background" : undefined);
    }
  });

  it("parents every resource under its component", () => {
    for (const { component, o } of expected()) expect(byName(recs, resourceName(component, o)).parent).toBe(component);
  });

  it("makes every demo resource depend on the flannel DaemonSet and the metrics-server Deployment and APIService", () => {
    const demo = k8sResources().filter((r) => r.parent === "demo");
    expect(demo.length).toBe(4);
    for (const r of demo) {
      expect(r.dependsOn).toEqual(
        expect.arrayContaining(["flannel-ds-kube-flannel-ds", "metrics-server-deploy-metrics-server", "metrics-server-apiservice-v1beta1.metrics.k8s.io"]),
      );
    }
    expect(byName(recs, "demo-hpa-test-hpa").dependsOn).toContain("demo-deploy-test-deployment");
  });

  it("orders flannel: namespace before its objects, everything before the DaemonSet", () => {
    expect(byName(recs, "flannel-cm-kube-flannel-cfg").dependsOn).toContain("flannel-ns-kube-flannel");
    expect(byName(recs, "flannel-sa-flannel").dependsOn).toContain("flannel-ns-kube-flannel");
    expect(byName(recs, "flannel-ds-kube-flannel-ds").dependsOn).toEqual(
      expect.arrayContaining(["flannel-ns-kube-flannel", "flannel-sa-flannel", "flannel-cm-kube-flannel-cfg", "flannel-cr-flannel", "flannel-crb-flannel"]),
    );
  });

  it("orders metrics-server: the APIService after its Service and Deployment", () => {
    expect(byName(recs, "metrics-server-apiservice-v1beta1.metrics.k8s.io").dependsOn).toEqual(
      expect.arrayContaining(["metrics-server-svc-metrics-server", "metrics-server-deploy-metrics-server"]),
    );
  });

  it("passes a component's own dependsOn to all of its children", () => {
    const flannel = k8sResources().filter((r) => r.parent === "flannel");
    expect(flannel.length).toBe(6);
    for (const r of flannel) expect(r.dependsOn).toContain("k8s-control-init");
    // The demo never asked for the control plane directly, but reaches it through flannel.
    expect(dependsTransitively(recs, "demo-pod-testpod", "k8s-control-init")).toBe(true);
  });

  it("exposes test-service as DemoApp.service (its clusterIP is what the stack exports)", () => {
    expect(serviceName).toBe("test-service");
  });
});
