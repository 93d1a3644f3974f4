// The add-on blocks: flannel (pod network), metricsServer (needed by the HPA) and demo, and the
// dependencies between them.
import { CsrApproverSpec, DemoSpec, FlannelSpec, HpaSpec, MetricsServerSpec, MirrorProfile, MirrorSpec } from "../spec";
import { CSR_APPROVER_IMAGE, FLANNEL_CNI_PLUGIN_VERSION, FLANNEL_VERSION, metricsServerVersion } from "../versions";
import { rewriteImageHost } from "./mirrors";
import { chinaPullFix, chinaPullProblem } from "./images";
import { Block, P, Problems, checkDnsLabel, checkImage } from "./reader";

export interface Addons {
  readonly flannel: FlannelSpec;
  readonly metricsServer: MetricsServerSpec;
  readonly kubeletCsrApprover: CsrApproverSpec;
  readonly demo: DemoSpec;
}

/** The add-on blocks; image defaults follow the mirror profile, metrics-server's version the Kubernetes minor. */
export function readAddons(root: Block, minor: number, profile: MirrorProfile, probs: Problems): Addons {
  const metricsServer = readMetricsServer(root.block("metricsServer"), minor, profile);
  return {
    flannel: readFlannel(root.block("flannel"), profile),
    metricsServer,
    kubeletCsrApprover: readCsrApprover(root.block("kubeletCsrApprover"), metricsServer),
    demo: readDemo(root.block("demo"), probs),
  };
}

/**
 * Every image the cluster deploys, with the key that sets it (enabled add-ons only). The same list
 * feeds the China reachability check and docs/images.md.
 */
export function deployedImages({ flannel, metricsServer, kubeletCsrApprover, demo }: Addons): { key: string; image: string }[] {
  const out: { key: string; image: string }[] = [];
  if (flannel.enabled) out.push({ key: "flannel.image", image: flannel.image }, { key: "flannel.cniPluginImage", image: flannel.cniPluginImage });
  if (metricsServer.enabled) out.push({ key: "metricsServer.image", image: metricsServer.image });
  if (kubeletCsrApprover.enabled) out.push({ key: "kubeletCsrApprover.image", image: kubeletCsrApprover.image });
  if (demo.enabled) {
    out.push({ key: "demo.fileserverImage", image: demo.fileserverImage }, { key: "demo.downloaderImage", image: demo.downloaderImage }, { key: "demo.loadImage", image: demo.loadImage });
  }
  return out;
}

/** With the China profile, an image its mirrors cannot serve is refused now rather than stuck in ImagePullBackOff later. */
export function checkChinaImages(addons: Addons, mirrors: MirrorSpec, probs: Problems): void {
  if (mirrors.profile !== "china") return;
  for (const { key, image } of deployedImages(addons)) {
    const problem = chinaPullProblem(image, mirrors);
    if (problem) probs.bad(`${P}${key}`, image, `cannot be pulled with mirrors.profile "china": ${problem}; ${chinaPullFix(image)}`);
  }
}

/** An enabled add-on whose prerequisite is disabled would install and then never work. */
export function checkAddonDependencies({ flannel, metricsServer, demo }: Addons, probs: Problems): void {
  // A control plane without workers is fine: the init step removes its NoSchedule taint so the demo runs.
  if (demo.enabled && !metricsServer.enabled) {
    probs.at(`${P}metricsServer.enabled`, "false while demo.enabled is true: the demo's HPA needs metrics-server; enable it or set demo.enabled: false");
  }
  if ((demo.enabled || metricsServer.enabled) && !flannel.enabled) {
    probs.at(`${P}flannel.enabled`, "false while add-ons are enabled: without a pod network nodes stay NotReady and add-on pods never start; enable flannel or disable metricsServer and demo");
  }
}

/**
 * flannel's images. Upstream's manifest pulls from ghcr.io/flannel-io, which DaoCloud does not mirror;
 * the same release is pushed to docker.io/flannel (flannel-io/flannel .github/workflows/release.yml:
 * REPOSITORY flannel/flannel next to ghcr.io/flannel-io/flannel), which it does (allows.txt
 * "docker.io/flannel/*"). So the China profile takes the Docker Hub copy through DaoCloud.
 */
function flannelImage(name: "flannel" | "flannel-cni-plugin", tag: string, profile: MirrorProfile): string {
  return profile === "china" ? rewriteImageHost(`docker.io/flannel/${name}:${tag}`, profile) : `ghcr.io/flannel-io/${name}:${tag}`;
}

function readFlannel(b: Block, profile: MirrorProfile): FlannelSpec {
  const spec: FlannelSpec = {
    enabled: b.bool("enabled", true),
    image: b.str("image", flannelImage("flannel", FLANNEL_VERSION, profile), checkImage),
    cniPluginImage: b.str("cniPluginImage", flannelImage("flannel-cni-plugin", FLANNEL_CNI_PLUGIN_VERSION, profile), checkImage),
    backend: b.oneOf<"vxlan" | "host-gw">("backend", "vxlan", ["vxlan", "host-gw"]),
  };
  b.finish();
  return spec;
}

function readMetricsServer(b: Block, minor: number, profile: MirrorProfile): MetricsServerSpec {
  const enabled = b.bool("enabled", true);
  const version = b.str("version", metricsServerVersion(minor), (s) => (/^v\d+\.\d+\.\d+$/.test(s) ? undefined : 'must look like "v0.8.1"'));
  const spec: MetricsServerSpec = {
    enabled,
    version,
    image: b.str("image", rewriteImageHost(`registry.k8s.io/metrics-server/metrics-server:${version}`, profile), checkImage),
    kubeletInsecureTls: b.bool("kubeletInsecureTls", false),
  };
  b.finish();
  return spec;
}

/**
 * kubelet-csr-approver: with kubelet serving certificates signed by the cluster CA (the default), it
 * approves their renewals (a kubelet asks again at ~70-90 % of the certificate's life), which nothing
 * else does. Pointless when metrics-server skips kubelet TLS verification, so it follows that switch.
 */
function readCsrApprover(b: Block, metricsServer: MetricsServerSpec): CsrApproverSpec {
  const spec: CsrApproverSpec = {
    enabled: b.bool("enabled", metricsServer.enabled && !metricsServer.kubeletInsecureTls),
    image: b.str("image", CSR_APPROVER_IMAGE, checkImage),
  };
  b.finish();
  return spec;
}

function readDemo(b: Block, probs: Problems): DemoSpec {
  const port = { min: 1, max: 65535 };
  const fileserverPort = b.int("fileserverPort", 8080, port);
  const downloaderPort = b.int("downloaderPort", 3000, port);
  if (fileserverPort === downloaderPort) {
    probs.bad(b.key("downloaderPort"), downloaderPort, "equals demo.fileserverPort; both containers share the Pod's network, so the ports must differ");
  }
  const { cpuRequest, cpuLimit } = readDemoCpu(b, probs);
  const hpa = readHpa(b.block("hpa"), probs);
  const spec: DemoSpec = {
    enabled: b.bool("enabled", true),
    namespace: b.str("namespace", "default", checkDnsLabel),
    fileserverImage: b.str("fileserverImage", "docker.io/7143192/fileserver:latest", checkImage),
    downloaderImage: b.str("downloaderImage", "docker.io/7143192/downloader:latest", checkImage),
    fileserverPort,
    downloaderPort,
    hostPath: b.str("hostPath", "/home/data", (s) => (s.startsWith("/") && !/\s/.test(s) ? undefined : 'must be an absolute path, e.g. "/home/data"')),
    cpuRequest,
    cpuLimit,
    hpa,
    loadImage: b.str("loadImage", "docker.io/library/busybox:1.36", checkImage),
  };
  b.finish();
  return spec;
}

const CPU_QUANTITY = /^(\d+m|\d+(\.\d{1,3})?)$/;
function millicores(q: string): number {
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000);
}

/** `demo.cpuRequest` and `demo.cpuLimit`, checked against each other. */
function readDemoCpu(b: Block, probs: Problems): { cpuRequest: string; cpuLimit: string } {
  const cpu = (s: string) => (CPU_QUANTITY.test(s) ? undefined : 'not a CPU quantity; e.g. "200m" or "0.5"');
  const cpuRequest = b.str("cpuRequest", "200m", cpu);
  const cpuLimit = b.str("cpuLimit", "500m", cpu);
  if (CPU_QUANTITY.test(cpuRequest) && CPU_QUANTITY.test(cpuLimit) && millicores(cpuRequest) > millicores(cpuLimit)) {
    probs.bad(b.key("cpuRequest"), cpuRequest, `greater than demo.cpuLimit "${cpuLimit}"; Kubernetes rejects a request above the limit`);
  }
  if (CPU_QUANTITY.test(cpuRequest) && millicores(cpuRequest) === 0) probs.bad(b.key("cpuRequest"), cpuRequest, "must be above 0: the HPA measures utilization against the request");
  return { cpuRequest, cpuLimit };
}

function readHpa(h: Block, probs: Problems): HpaSpec {
  const pct = { min: 1, max: 100 };
  const hpa: HpaSpec = {
    minReplicas: h.int("minReplicas", 3, { min: 1, max: 1000 }),
    maxReplicas: h.int("maxReplicas", 6, { min: 1, max: 1000 }),
    cpuUtilization: h.int("cpuUtilization", 40, { ...pct, hint: "percent of the CPU request" }),
    scaleDownPercent: h.int("scaleDownPercent", 10, pct),
    scaleDownPeriodSeconds: h.int("scaleDownPeriodSeconds", 60, { min: 1, max: 1800, hint: "the HPA API limit" }),
  };
  if (hpa.minReplicas > hpa.maxReplicas) {
    probs.bad(h.key("minReplicas"), hpa.minReplicas, `greater than demo.hpa.maxReplicas (${hpa.maxReplicas}); set minReplicas <= maxReplicas`);
  }
  h.finish();
  return hpa;
}
