// Every add-on object, for every stack shape we ship, is valid against the Kubernetes API schema
// (kubernetes-models), including the strict unknown-field check of test/k8s-schema.ts. And the
// validator itself catches the mistakes it exists for (misspelled field, wrong type, unknown kind).
import { flannelObjects } from "../components/addons/manifests/flannel";
import { metricsServerObjects } from "../components/addons/manifests/metrics-server";
import { demoObjects } from "../components/addons/manifests/demo";
import { ClusterSpec } from "../components/spec";
import { aliyunSpec, devSpec, existingSpec } from "./fixtures";
import { findObject, plain, unknownFields, validateObject, validateTypes } from "./k8s-schema";

const specs: [string, ClusterSpec][] = [
  ["dev (VirtualBox, 1.30)", devSpec()],
  ["dev on 1.33", devSpec({}, "1.33.2")],
  ["aliyun (china mirrors, 1.28)", aliyunSpec()],
  ["existing hosts (no nic)", existingSpec(2)],
  ["insecure kubelet TLS, host-gw, own namespace", (() => {
    const d = devSpec({}, "1.31.0");
    return devSpec(
      {
        metricsServer: { ...d.metricsServer, kubeletInsecureTls: true },
        flannel: { ...d.flannel, backend: "host-gw" },
        demo: { ...d.demo, namespace: "demo" },
      },
      "1.31.0",
    );
  })()],
];

describe.each(specs)("schema: %s", (_label, spec) => {
  const objs = [...flannelObjects(spec), ...metricsServerObjects(spec), ...demoObjects(spec)];

  it("produces the add-on objects", () => {
    expect(objs.length).toBeGreaterThanOrEqual(6 + 9 + 4);
  });

  it.each(objs.map((o) => [`${o.kind} ${o.metadata.name}`, o] as const))("%s is valid against the API schema", (_n, obj) => {
    expect(() => validateObject(plain(obj))).not.toThrow();
  });

  it("gives every object an explicit name (no Pulumi auto-naming)", () => {
    for (const o of objs) expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/);
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- these tests inject mistakes at arbitrary nested paths of a JSON copy
type Doc = any;

describe("the schema validator catches real mistakes", () => {
  const ds = (): Doc => plain(findObject(flannelObjects(devSpec()), "DaemonSet", "kube-flannel-ds"));

  it("accepts the untouched object (the negative cases below differ only by the mistake)", () => {
    expect(() => validateObject(ds())).not.toThrow();
  });

  it("rejects a misspelled container field that kubernetes-models alone lets through", () => {
    const bad = ds();
    const c = bad.spec.template.spec.containers[0];
    c.imagee = c.image;
    delete c.image;
    // kubernetes-models' generated validator does not reject additional properties ...
    expect(() => validateTypes(bad)).not.toThrow();
    // ... so the strict layer must, naming the path.
    expect(unknownFields(bad)).toEqual([expect.stringContaining(".spec.template.spec.containers[0].imagee: unknown field")]);
    expect(() => validateObject(bad)).toThrow(/imagee: unknown field/);
  });

  it("rejects a misspelled field at the top of a spec and in metadata", () => {
    const bad = ds();
    bad.spec.selectr = bad.spec.selector;
    bad.metadata.lables = {};
    expect(() => validateObject(bad)).toThrow(/\.spec\.selectr: unknown field.*\.metadata\.lables: unknown field|\.metadata\.lables: unknown field.*\.spec\.selectr/);
  });

  it("accepts arbitrary keys where the schema is a map (labels, annotations, ConfigMap data)", () => {
    const cm: Doc = plain(findObject(flannelObjects(devSpec()), "ConfigMap", "kube-flannel-cfg"));
    cm.data["any-key.json"] = "{}";
    cm.metadata.annotations = { "example.com/anything": "x" };
    expect(() => validateObject(cm)).not.toThrow();
  });

  it("rejects a wrong type (string port) and a missing required field", () => {
    const svc: Doc = plain(findObject(demoObjects(devSpec()), "Service", "test-service"));
    svc.spec.ports[0].port = "8080";
    expect(() => validateObject(svc)).toThrow(/port must be integer/);
    const bad = ds();
    delete bad.spec.template.spec.containers;
    expect(() => validateObject(bad)).toThrow(/must have required property containers/);
  });

  it("rejects an apiVersion/kind the Kubernetes API does not have", () => {
    expect(() => validateObject({ apiVersion: "autoscaling/v3", kind: "HorizontalPodAutoscaler", metadata: { name: "x" } })).toThrow(/no schema/);
    expect(() => validateObject({ apiVersion: "apps/v1", kind: "DeamonSet", metadata: { name: "x" } })).toThrow(/no schema/);
  });
});
