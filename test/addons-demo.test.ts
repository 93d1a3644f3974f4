// The demo workload of seed runbook 002 (Q4 Pod, Q7 Deployment, Q9 Service, Q12/Q13 HPA), every value
// from spec.demo. The numbers below are the seed's (max 6, min 3, 40 % CPU, 10 % per 60 s, ports
// 8080/3000, 200m/500m), taken from devSpec; a second spec with different numbers proves they are
// read from the spec and not hard-coded.
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IService } from "kubernetes-models/v1/Service";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { demoObjects } from "../components/addons/manifests/demo";
import { ClusterSpec } from "../components/spec";
import { devSpec } from "./fixtures";
import { findObject, kindNameSet } from "./k8s-schema";

const seed = devSpec();
const other: ClusterSpec = devSpec({
  demo: {
    ...seed.demo,
    namespace: "demo",
    fileserverImage: "registry.example.com/fs:1.0",
    downloaderImage: "registry.example.com/dl:1.0",
    fileserverPort: 18080,
    downloaderPort: 13000,
    hostPath: "/srv/share",
    cpuRequest: "250m",
    cpuLimit: "1",
    hpa: { minReplicas: 2, maxReplicas: 9, cpuUtilization: 55, scaleDownPercent: 25, scaleDownPeriodSeconds: 120 },
  },
});

const pod = (s: ClusterSpec) => findObject<IPod>(demoObjects(s), "Pod", "testpod");
const deployment = (s: ClusterSpec) => findObject<IDeployment>(demoObjects(s), "Deployment", "test-deployment");
const service = (s: ClusterSpec) => findObject<IService>(demoObjects(s), "Service", "test-service");
const hpa = (s: ClusterSpec) => findObject<IHorizontalPodAutoscaler>(demoObjects(s), "HorizontalPodAutoscaler", "test-hpa");

/** Does a matchLabels/selector map select a pod with these labels? (Kubernetes equality-based selection.) */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe.each([
  ["seed values", seed],
  ["other values", other],
])("demo (%s)", (_label, spec) => {
  const d = spec.demo;

  it("creates testpod, test-deployment, test-service, test-hpa in the demo namespace", () => {
    const names = demoObjects(spec).filter((o) => o.kind !== "Namespace");
    expect(kindNameSet(names)).toEqual(
      kindNameSet([
        { apiVersion: "v1", kind: "Pod", metadata: { name: "testpod", namespace: d.namespace } },
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "test-deployment", namespace: d.namespace } },
        { apiVersion: "v1", kind: "Service", metadata: { name: "test-service", namespace: d.namespace } },
        { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "test-hpa", namespace: d.namespace } },
      ]),
    );
  });

  it("Pod: fileserver and downloader share a DirectoryOrCreate hostPath volume", () => {
    const p = pod(spec);
    expect(p.metadata?.labels).toEqual({ app: "testpod" });
    const [fs, dl] = p.spec?.containers ?? [];
    expect([fs.name, fs.image, fs.ports?.[0].containerPort]).toEqual(["fileserver", d.fileserverImage, d.fileserverPort]);
    expect([dl.name, dl.image, dl.ports?.[0].containerPort]).toEqual(["downloader", d.downloaderImage, d.downloaderPort]);
    const vol = p.spec?.volumes?.[0];
    expect(vol?.hostPath).toEqual({ path: d.hostPath, type: "DirectoryOrCreate" });
    expect(fs.volumeMounts).toEqual([{ name: vol?.name, mountPath: "/usr/share/files" }]);
    expect(dl.volumeMounts).toEqual([{ name: vol?.name, mountPath: "/data" }]);
  });

  it("Deployment: same containers with CPU requests and limits, and no fixed replicas (the HPA owns scaling)", () => {
    const dep = deployment(spec);
    expect(dep.spec).not.toHaveProperty("replicas");
    const podSpec = dep.spec?.template.spec;
    expect(podSpec?.containers.map((c) => [c.name, c.image, c.ports?.[0].containerPort])).toEqual([
      ["fileserver", d.fileserverImage, d.fileserverPort],
      ["downloader", d.downloaderImage, d.downloaderPort],
    ]);
    for (const c of podSpec?.containers ?? []) expect(c.resources).toEqual({ requests: { cpu: d.cpuRequest }, limits: { cpu: d.cpuLimit } });
    expect(podSpec?.volumes?.[0].hostPath).toEqual({ path: d.hostPath, type: "DirectoryOrCreate" });
    // The Deployment's selector must select its own pod template (the API server rejects it otherwise).
    expect(selects(dep.spec?.selector.matchLabels, dep.spec?.template.metadata?.labels)).toBe(true);
  });

  it("Service: ClusterIP, ports fileserver and downloader, selecting the Pod and the Deployment's pods", () => {
    const svc = service(spec);
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.ports).toEqual([
      { name: "fileserver", port: d.fileserverPort, targetPort: d.fileserverPort, protocol: "TCP" },
      { name: "downloader", port: d.downloaderPort, targetPort: d.downloaderPort, protocol: "TCP" },
    ]);
    expect(svc.spec?.selector).toEqual({ app: "testpod" });
    expect(selects(svc.spec?.selector, pod(spec).metadata?.labels)).toBe(true);
    expect(selects(svc.spec?.selector, deployment(spec).spec?.template.metadata?.labels)).toBe(true);
  });

  it("HPA: autoscaling/v2 on the Deployment, min/max, CPU target and the scale-down rate limit", () => {
    const h = hpa(spec).spec;
    expect(h?.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment(spec).metadata?.name });
    expect([h?.minReplicas, h?.maxReplicas]).toEqual([d.hpa.minReplicas, d.hpa.maxReplicas]);
    expect(h?.metrics).toEqual([
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: d.hpa.cpuUtilization } } },
    ]);
    expect(h?.behavior?.scaleDown?.policies).toEqual([{ type: "Percent", value: d.hpa.scaleDownPercent, periodSeconds: d.hpa.scaleDownPeriodSeconds }]);
  });

  it("HPA measures only pods with CPU requests: the Deployment's selector does not match the bare Pod", () => {
    // The HPA reads utilization of every pod its target's selector matches; the standalone Pod has no
    // CPU request, and one such pod makes the HPA unable to compute utilization at all.
    expect(pod(spec).spec?.containers.every((c) => c.resources?.requests?.cpu === undefined)).toBe(true);
    expect(selects(deployment(spec).spec?.selector.matchLabels, pod(spec).metadata?.labels)).toBe(false);
  });
});

describe("demo namespace and switch", () => {
  it("uses the built-in default namespace without creating (or later deleting) it", () => {
    expect(demoObjects(seed).some((o) => o.kind === "Namespace")).toBe(false);
    expect(demoObjects(seed).every((o) => o.metadata.namespace === "default")).toBe(true);
  });

  it("creates a namespace of its own first", () => {
    const objs = demoObjects(other);
    expect(objs[0]).toEqual({ apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } });
    expect(objs.slice(1).every((o) => o.metadata.namespace === "demo")).toBe(true);
  });

  it("creates nothing when disabled", () => {
    expect(demoObjects(devSpec({ demo: { ...seed.demo, enabled: false } }))).toEqual([]);
  });
});
