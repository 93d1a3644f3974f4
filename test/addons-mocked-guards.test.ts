// Wiring mistakes fail loudly instead of sending resources to the wrong cluster: no provider -> error
// before anything is registered; a disabled add-on registers no Kubernetes resource.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { Flannel } from "../components/addons/flannel";
import { MetricsServer } from "../components/addons/metrics-server";
import { DemoApp } from "../components/addons/demo-app";
import { RecordedResource, runMocked } from "./harness";
import { devSpec } from "./fixtures";

const d = devSpec();
const disabled = devSpec({
  flannel: { ...d.flannel, enabled: false },
  metricsServer: { ...d.metricsServer, enabled: false },
  demo: { ...d.demo, enabled: false },
});

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
}

let recs: RecordedResource[];
let errors: Record<string, string>;
let ready: { flannel: number; metrics: number };

beforeAll(async () => {
  const run = await runMocked({ config: {} }, () => {
    const errors = {
      flannel: errorOf(() => new Flannel("nf", { spec: d })),
      metrics: errorOf(() => new MetricsServer("nm", { spec: d }, {})),
      demo: errorOf(() => new DemoApp("nd", { spec: d, dependsOn: [] })),
    };
    const provider = new k8s.Provider("k8s", { kubeconfig: pulumi.secret("apiVersion: v1\nkind: Config\n") });
    const flannel = new Flannel("flannel", { spec: disabled }, { provider });
    const metrics = new MetricsServer("metrics-server", { spec: disabled }, { provider });
    const demoDisabled = errorOf(() => new DemoApp("demo", { spec: disabled, dependsOn: [] }, { provider }));
    return { errors: { ...errors, demoDisabled }, ready: { flannel: flannel.ready.length, metrics: metrics.ready.length } };
  });
  recs = run.resources;
  errors = run.value.errors;
  ready = run.value.ready;
});

describe("add-on component guards", () => {
  it("refuses to run without the cluster's provider (no fallback to the kubectl context)", () => {
    expect(errors.flannel).toMatch(/Flannel: pass the cluster's k8s.Provider/);
    expect(errors.metrics).toMatch(/MetricsServer: pass the cluster's k8s.Provider/);
    expect(errors.demo).toMatch(/DemoApp: pass the cluster's k8s.Provider/);
    // Nothing of the refused components was registered.
    expect(recs.filter((r) => ["nf", "nm", "nd"].includes(r.name) || ["nf", "nm", "nd"].includes(r.parent))).toEqual([]);
  });

  it("registers no Kubernetes resource for disabled add-ons; their ready lists are empty", () => {
    expect(recs.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
    expect(ready).toEqual({ flannel: 0, metrics: 0 });
  });

  it("refuses to build a disabled demo (the caller gates DemoApp on spec.demo.enabled)", () => {
    expect(errors.demoDisabled).toMatch(/spec.demo.enabled is false/);
    expect(recs.some((r) => r.name === "demo")).toBe(false);
  });
});
