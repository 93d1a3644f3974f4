// metrics-server objects: the released components.yaml of the version the Kubernetes minor needs,
// with the image from the spec and the kubelet TLS switch.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IService } from "kubernetes-models/v1/Service";
import { metricsServerVersion } from "../components/versions";
import { metricsServerObjects, metricsServerArgs, parseMetricsServerVersion } from "../components/addons/manifests/metrics-server";
import { ClusterSpec } from "../components/spec";
import { aliyunSpec, devSpec } from "./fixtures";
import { findObject, kindNameSet, plain, readReferenceManifest, ReferenceObject } from "./k8s-schema";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON copies of manifests, edited at arbitrary paths
type Doc = any;

/**
 * What the release overlay does to manifests/base (reference/README.md): kustomize commonLabels puts
 * `k8s-app: metrics-server` on every object, into the Deployment's selector and pod template and the
 * Service's selector; the images component sets registry.k8s.io/metrics-server/metrics-server:<tag>.
 */
function released(base: readonly ReferenceObject[], tag: string): Doc[] {
  const label = { "k8s-app": "metrics-server" };
  return plain(base).map((o: Doc) => {
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...label };
    if (o.kind === "Deployment") {
      o.spec.selector = { matchLabels: { ...(o.spec.selector?.matchLabels ?? {}), ...label } };
      o.spec.template.metadata = { ...(o.spec.template.metadata ?? {}), labels: { ...(o.spec.template.metadata?.labels ?? {}), ...label } };
      for (const c of o.spec.template.spec.containers) c.image = `registry.k8s.io/metrics-server/metrics-server:${tag}`;
    }
    if (o.kind === "Service") o.spec.selector = { ...(o.spec.selector ?? {}), ...label };
    return o;
  });
}

const byKey = (objs: Doc[]) => [...objs].sort((a, b) => kindNameSet([a])[0].localeCompare(kindNameSet([b])[0]));
const deployment = (spec: ClusterSpec) => findObject<IDeployment>(metricsServerObjects(spec), "Deployment", "metrics-server");
const container = (spec: ClusterSpec) => deployment(spec).spec?.template.spec?.containers[0];
const service = (spec: ClusterSpec) => findObject<IService>(metricsServerObjects(spec), "Service", "metrics-server");

describe.each([
  ["1.28.9", "v0.7.2"],
  ["1.30.12", "v0.7.2"],
  ["1.31.0", "v0.8.1"],
  ["1.33.2", "v0.8.1"],
])("Kubernetes %s -> metrics-server %s", (k8sVersion, expected) => {
  const spec = devSpec({}, k8sVersion);
  const reference = readReferenceManifest(`metrics-server-${expected}.yaml`);

  it("picks the release that supports the minor (0.7.x below 1.31, 0.8.x from 1.31)", () => {
    expect(metricsServerVersion(spec.kubernetes.version.minor)).toBe(expected);
    expect(spec.metricsServer.version).toBe(expected);
    expect(container(spec)?.image).toBe(`registry.k8s.io/metrics-server/metrics-server:${expected}`);
  });

  it("creates the same kinds and names as the release manifest", () => {
    expect(kindNameSet(metricsServerObjects(spec))).toEqual(kindNameSet(reference));
  });

  it("is exactly the release manifest of that version, plus Pulumi's wait on the APIService", () => {
    const ours: Doc[] = plain(metricsServerObjects(spec));
    const api = ours.find((o) => o.kind === "APIService");
    // Our one addition: Pulumi has no readiness check for APIService, so we ask it to wait for Available.
    expect(api.metadata.annotations).toEqual({ "pulumi.com/waitFor": "condition=Available" });
    delete api.metadata.annotations;
    expect(byKey(ours)).toEqual(byKey(released(reference, expected)));
  });

  it("labels every object and selector k8s-app=metrics-server (release overlay)", () => {
    for (const o of metricsServerObjects(spec)) expect(o.metadata.labels?.["k8s-app"]).toBe("metrics-server");
    expect(deployment(spec).spec?.selector.matchLabels).toEqual({ "k8s-app": "metrics-server" });
    expect(deployment(spec).spec?.template.metadata?.labels).toEqual({ "k8s-app": "metrics-server" });
    expect(service(spec).spec?.selector).toEqual({ "k8s-app": "metrics-server" });
  });
});

describe("version-dependent differences", () => {
  it("adds appProtocol https to the Service port from v0.8 on, as the 0.8.1 manifest does and 0.7.2 does not", () => {
    expect(service(devSpec({}, "1.30.12")).spec?.ports?.[0].appProtocol).toBeUndefined();
    expect(service(devSpec({}, "1.31.0")).spec?.ports?.[0].appProtocol).toBe("https");
  });

  it("refuses versions it does not model", () => {
    expect(() => parseMetricsServerVersion("v0.6.4")).toThrow(/before v0.7.0/);
    expect(() => parseMetricsServerVersion("latest")).toThrow(/expected a release/);
    const d = devSpec();
    expect(() => metricsServerObjects(devSpec({ metricsServer: { ...d.metricsServer, version: "0.8" } }))).toThrow(/metricsServer.version/);
  });
});

describe("kubelet TLS", () => {
  const withInsecure = (on: boolean) => {
    const d = devSpec({}, "1.31.0");
    return devSpec({ metricsServer: { ...d.metricsServer, kubeletInsecureTls: on } }, "1.31.0");
  };

  it("verifies kubelet certificates by default (no --kubelet-insecure-tls)", () => {
    expect(devSpec().metricsServer.kubeletInsecureTls).toBe(false);
    expect(container(withInsecure(false))?.args).not.toContain("--kubelet-insecure-tls");
  });

  it("adds --kubelet-insecure-tls, and nothing else, when asked for", () => {
    const secure = metricsServerArgs(withInsecure(false));
    const insecure = metricsServerArgs(withInsecure(true));
    expect(insecure.filter((a) => !secure.includes(a))).toEqual(["--kubelet-insecure-tls"]);
    expect(secure.every((a) => insecure.includes(a))).toBe(true);
    expect(container(withInsecure(true))?.args).toContain("--kubelet-insecure-tls");
  });
});

describe("image and switch", () => {
  it("takes the image from the spec (e.g. a China mirror)", () => {
    const spec = aliyunSpec();
    expect(container(spec)?.image).toBe(spec.metricsServer.image);
    expect(spec.metricsServer.image).toMatch(/^k8s\.m\.daocloud\.io\//);
  });

  it("creates nothing when disabled", () => {
    const d = devSpec();
    expect(metricsServerObjects(devSpec({ metricsServer: { ...d.metricsServer, enabled: false } }))).toEqual([]);
  });
});
