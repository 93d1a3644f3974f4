// The demo workload of seed runbook 002 (Q4 Pod, Q7 Deployment, Q9 Service, Q12/Q13 HPA) as plain
// objects, every value from spec.demo.
import { ClusterSpec, DemoSpec } from "../../spec";

/** What the demo workload needs from the cluster description. */
export type DemoSettings = Pick<ClusterSpec, "demo">;
import { AddonObject, DeploymentObject, HorizontalPodAutoscalerObject, K8sObject, NamespaceObject, PodObject, ServiceObject } from "./types";
import type * as k8s from "@pulumi/kubernetes";

export const DEMO_POD = "testpod";
export const DEMO_DEPLOYMENT = "test-deployment";
export const DEMO_SERVICE = "test-service";
export const DEMO_HPA = "test-hpa";

/** The label the Service selects: the Pod and the Deployment's pods both carry it (as in the seed). */
export const APP_LABELS = { app: "testpod" };
/**
 * Extra label on the Deployment's pods only, part of its selector. The HPA measures every pod that
 * matches the Deployment's selector; with the seed's bare `app=testpod` selector that includes the
 * standalone Pod `testpod`, which has no CPU request, and the HPA then cannot compute utilization
 * ("missing request for cpu"). The Service still selects all of them through `app=testpod`.
 */
export const DEPLOYMENT_POD_LABELS = { ...APP_LABELS, workload: DEMO_DEPLOYMENT };

/** Namespaces that exist in every cluster: never created (or deleted on destroy) by the demo. */
const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

const VOLUME = "test-volume";

type Container = k8s.types.input.core.v1.Container;

function containers(d: DemoSpec, withResources: boolean): Container[] {
  // The HPA computes utilization relative to requests (FACTS §8): the Deployment's containers need them.
  const resources = withResources ? { resources: { requests: { cpu: d.cpuRequest }, limits: { cpu: d.cpuLimit } } } : {};
  return [
    {
      name: "fileserver",
      image: d.fileserverImage,
      ports: [{ containerPort: d.fileserverPort }],
      volumeMounts: [{ name: VOLUME, mountPath: "/usr/share/files" }],
      ...resources,
    },
    {
      name: "downloader",
      image: d.downloaderImage,
      ports: [{ containerPort: d.downloaderPort }],
      volumeMounts: [{ name: VOLUME, mountPath: "/data" }],
      ...resources,
    },
  ];
}

function volumes(d: DemoSpec): k8s.types.input.core.v1.Volume[] {
  return [{ name: VOLUME, hostPath: { path: d.hostPath, type: "DirectoryOrCreate" } }];
}

export interface DemoManifest {
  /** Only when spec.demo.namespace is not a built-in namespace. */
  readonly namespace?: NamespaceObject;
  readonly pod: PodObject;
  readonly deployment: DeploymentObject;
  readonly service: ServiceObject;
  readonly hpa: HorizontalPodAutoscalerObject;
}

export function demoManifest(spec: DemoSettings): DemoManifest {
  const d = spec.demo;
  const ns = d.namespace;
  const namespace: NamespaceObject | undefined = BUILTIN_NAMESPACES.has(ns) ? undefined : { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  const pod: PodObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: DEMO_POD, namespace: ns, labels: APP_LABELS },
    spec: { containers: containers(d, false), volumes: volumes(d) },
  };
  const deployment: DeploymentObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: DEMO_DEPLOYMENT, namespace: ns, labels: APP_LABELS },
    // No `replicas`: the HPA owns the replica count; a fixed value would be reset on every `pulumi up`.
    spec: {
      selector: { matchLabels: DEPLOYMENT_POD_LABELS },
      template: { metadata: { labels: DEPLOYMENT_POD_LABELS }, spec: { containers: containers(d, true), volumes: volumes(d) } },
    },
  };
  const service: ServiceObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: DEMO_SERVICE, namespace: ns },
    spec: {
      type: "ClusterIP",
      selector: APP_LABELS,
      ports: [
        { name: "fileserver", port: d.fileserverPort, targetPort: d.fileserverPort, protocol: "TCP" },
        { name: "downloader", port: d.downloaderPort, targetPort: d.downloaderPort, protocol: "TCP" },
      ],
    },
  };
  const hpa: HorizontalPodAutoscalerObject = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: DEMO_HPA, namespace: ns },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: DEMO_DEPLOYMENT },
      minReplicas: d.hpa.minReplicas,
      maxReplicas: d.hpa.maxReplicas,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: d.hpa.cpuUtilization } } }],
      // Seed Q13: scale down by at most scaleDownPercent % of the pods per period, so load jitter does
      // not delete and recreate pods needlessly.
      behavior: { scaleDown: { policies: [{ type: "Percent", value: d.hpa.scaleDownPercent, periodSeconds: d.hpa.scaleDownPeriodSeconds }] } },
    },
  };
  return { namespace, pod, deployment, service, hpa };
}

/** In apply order. [] when the demo is disabled. */
export function demoAddonObjects(spec: DemoSettings): AddonObject[] {
  if (!spec.demo.enabled) return [];
  const m = demoManifest(spec);
  return [...(m.namespace ? [m.namespace] : []), m.pod, m.deployment, m.service, m.hpa];
}

/** For the offline renderer: the demo objects `pulumi up` applies ([] when disabled). */
export function demoObjects(spec: DemoSettings): K8sObject[] {
  return demoAddonObjects(spec);
}
