// The kubeadm configuration documents per Kubernetes minor: API version, extraArgs shape, and the
// fields kubeadm needs, checked by parsing the generated YAML back (what kubeadm itself reads).
import * as yaml from "js-yaml";
import { devSpec, aliyunSpec } from "./fixtures";
import { controlPlaneNode, workerNodes, ClusterSpec } from "../components/spec";
import {
  KUBEADM_VERSION_PLACEHOLDER,
  certSans,
  imagePullConfigYaml,
  initConfigYaml,
  joinConfigYaml,
} from "../components/node/kubeadm-config";

const TOKEN = "abcdef.0123456789abcdef";
const HASH = `sha256:${"ab".repeat(32)}`;

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, inspected field by field

function docs(text: string): Doc[] {
  return (yaml.loadAll(text) as Doc[]).filter(Boolean);
}
function kind(all: Doc[], k: string): Doc {
  const found = all.filter((d) => d.kind === k);
  expect(found).toHaveLength(1);
  return found[0];
}

describe.each([
  ["1.28.9", "kubeadm.k8s.io/v1beta3"],
  ["1.30.12", "kubeadm.k8s.io/v1beta3"],
  ["1.31.4", "kubeadm.k8s.io/v1beta4"],
  ["1.33.1", "kubeadm.k8s.io/v1beta4"],
])("Kubernetes %s", (version, api) => {
  const spec = devSpec({}, version);
  const cp = controlPlaneNode(spec);
  const w = workerNodes(spec)[0];
  const init = docs(initConfigYaml(spec, cp, TOKEN, certSans(cp, "203.0.113.7")));
  const join = docs(joinConfigYaml(spec, w, TOKEN, HASH, "192.168.56.10:6443"));
  const v1beta4 = api.endsWith("v1beta4");

  test(`uses ${api} for the kubeadm kinds`, () => {
    expect(kind(init, "InitConfiguration").apiVersion).toBe(api);
    expect(kind(init, "ClusterConfiguration").apiVersion).toBe(api);
    expect(kind(join, "JoinConfiguration").apiVersion).toBe(api);
    expect(kind(init, "KubeletConfiguration").apiVersion).toBe("kubelet.config.k8s.io/v1beta1");
  });

  test("kubelet node-ip = the node IP, as a map (v1beta3) or a list of {name, value} (v1beta4)", () => {
    const initArgs = kind(init, "InitConfiguration").nodeRegistration.kubeletExtraArgs;
    const joinArgs = kind(join, "JoinConfiguration").nodeRegistration.kubeletExtraArgs;
    if (v1beta4) {
      expect(initArgs).toEqual([{ name: "node-ip", value: "192.168.56.10" }]);
      expect(joinArgs).toEqual([{ name: "node-ip", value: "192.168.56.20" }]);
    } else {
      expect(initArgs).toEqual({ "node-ip": "192.168.56.10" });
      expect(joinArgs).toEqual({ "node-ip": "192.168.56.20" });
    }
  });

  test("init: token, advertise address, node name, CRI socket", () => {
    const ic = kind(init, "InitConfiguration");
    expect(ic.bootstrapTokens).toEqual([
      expect.objectContaining({ token: TOKEN, ttl: "24h", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }),
    ]);
    expect(ic.localAPIEndpoint).toEqual({ advertiseAddress: "192.168.56.10", bindPort: 6443 });
    expect(ic.nodeRegistration.name).toBe("k8s-control");
    expect(ic.nodeRegistration.criSocket).toBe("unix:///var/run/containerd/containerd.sock");
  });

  test("cluster: exact version, repository, networking from the spec, certSANs", () => {
    const cc = kind(init, "ClusterConfiguration");
    expect(cc.kubernetesVersion).toBe(`v${version}`);
    expect(cc.imageRepository).toBe("registry.k8s.io");
    expect(cc.networking).toEqual({ podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local" });
    expect(cc.apiServer.certSANs).toEqual(["192.168.56.10", "k8s-control", "203.0.113.7"]);
    expect(cc.dns).toBeUndefined();
  });

  test("kubelet: systemd cgroups and serving certificates signed by the cluster CA", () => {
    const kc = kind(init, "KubeletConfiguration");
    expect(kc.cgroupDriver).toBe("systemd");
    expect(kc.serverTLSBootstrap).toBe(true);
  });

  test("join: token discovery pinned to the CA hash at the endpoint", () => {
    expect(kind(join, "JoinConfiguration").discovery).toEqual({
      bootstrapToken: { apiServerEndpoint: "192.168.56.10:6443", token: TOKEN, caCertHashes: [HASH] },
    });
    expect(kind(join, "JoinConfiguration").nodeRegistration.name).toBe("k8s-worker");
  });
});

test("kubeletInsecureTls leaves kubelet serving certificates self-signed (no serverTLSBootstrap)", () => {
  const base = devSpec();
  const spec: ClusterSpec = { ...base, metricsServer: { ...base.metricsServer, kubeletInsecureTls: true } };
  const kc = kind(docs(initConfigYaml(spec, controlPlaneNode(spec), TOKEN, [])), "KubeletConfiguration");
  expect(kc.serverTLSBootstrap).toBeUndefined();
});

test("minor-only version: kubernetesVersion is the placeholder the node replaces with its kubeadm version", () => {
  const spec = devSpec({}, "1.31");
  const cc = kind(docs(initConfigYaml(spec, controlPlaneNode(spec), TOKEN, [])), "ClusterConfiguration");
  expect(cc.kubernetesVersion).toBe(KUBEADM_VERSION_PLACEHOLDER);
  // init.sh replaces it with sed: the placeholder must survive YAML quoting verbatim.
  expect(initConfigYaml(spec, controlPlaneNode(spec), TOKEN, [])).toContain(KUBEADM_VERSION_PLACEHOLDER);
});

test("china profile: image repository and dns.imageRepository come from the mirror config", () => {
  const base = aliyunSpec();
  const spec: ClusterSpec = { ...base, mirrors: { ...base.mirrors, dnsImageRepository: "k8s.m.daocloud.io/coredns" } };
  const cc = kind(docs(initConfigYaml(spec, controlPlaneNode(spec), TOKEN, [])), "ClusterConfiguration");
  expect(cc.imageRepository).toBe("registry.aliyuncs.com/google_containers");
  expect(cc.dns).toEqual({ imageRepository: "k8s.m.daocloud.io/coredns" });
  expect(cc.kubernetesVersion).toBe("v1.28.9");
});

test("image pre-pull config carries version and repository but no token", () => {
  const spec = aliyunSpec();
  const text = imagePullConfigYaml(spec, controlPlaneNode(spec));
  const all = docs(text);
  expect(all.map((d) => d.kind)).toEqual(["ClusterConfiguration"]);
  expect(all[0]).toMatchObject({ kubernetesVersion: "v1.28.9", imageRepository: "registry.aliyuncs.com/google_containers" });
  expect(text).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
});

test("bad token, CA hash or endpoint is rejected before anything reaches a node", () => {
  const spec = devSpec();
  const cp = controlPlaneNode(spec);
  const w = workerNodes(spec)[0];
  expect(() => initConfigYaml(spec, cp, "ABCDEF.0123456789abcdef", [])).toThrow(/bootstrap token/);
  expect(() => initConfigYaml(spec, cp, "abcdef0123456789abcdef", [])).toThrow(/bootstrap token/);
  expect(() => joinConfigYaml(spec, w, TOKEN, "ab".repeat(32), "192.168.56.10:6443")).toThrow(/CA cert hash/);
  expect(() => joinConfigYaml(spec, w, TOKEN, HASH, "192.168.56.10")).toThrow(/host:port/);
});

test("certSANs: node IP and name always; a public address only when there is one, without duplicates", () => {
  const cp = controlPlaneNode(devSpec());
  expect(certSans(cp)).toEqual(["192.168.56.10", "k8s-control"]);
  expect(certSans(cp, "")).toEqual(["192.168.56.10", "k8s-control"]);
  expect(certSans(cp, "192.168.56.10")).toEqual(["192.168.56.10", "k8s-control"]);
  expect(certSans({ ...cp, publicIp: "198.51.100.4" })).toEqual(["192.168.56.10", "k8s-control", "198.51.100.4"]);
});

// Field names per kind from the kubernetes.io "kubeadm Configuration (v1beta3)" and "(v1beta4)"
// references: kubeadm rejects unknown fields in strict decoding, so a typo ("certSans") fails init.
const FIELDS: Record<string, Record<string, string[]>> = {
  InitConfiguration: {
    v1beta3: ["apiVersion", "kind", "bootstrapTokens", "nodeRegistration", "localAPIEndpoint", "certificateKey", "skipPhases", "patches"],
    v1beta4: ["apiVersion", "kind", "bootstrapTokens", "nodeRegistration", "localAPIEndpoint", "certificateKey", "skipPhases", "patches", "dryRun", "timeouts"],
  },
  ClusterConfiguration: {
    v1beta3: ["apiVersion", "kind", "etcd", "networking", "kubernetesVersion", "controlPlaneEndpoint", "apiServer", "controllerManager", "scheduler", "dns", "certificatesDir", "imageRepository", "featureGates", "clusterName"],
    v1beta4: ["apiVersion", "kind", "etcd", "networking", "kubernetesVersion", "controlPlaneEndpoint", "apiServer", "controllerManager", "scheduler", "dns", "proxy", "certificatesDir", "imageRepository", "featureGates", "clusterName", "encryptionAlgorithm", "certificateValidityPeriod", "caCertificateValidityPeriod"],
  },
  JoinConfiguration: {
    v1beta3: ["apiVersion", "kind", "nodeRegistration", "caCertPath", "discovery", "controlPlane", "skipPhases", "patches"],
    v1beta4: ["apiVersion", "kind", "nodeRegistration", "caCertPath", "discovery", "controlPlane", "skipPhases", "patches", "dryRun", "timeouts"],
  },
};
const NODE_REGISTRATION = ["name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors", "imagePullPolicy", "imagePullSerial"];

test.each(["1.28.9", "1.30.12", "1.31.4", "1.33.1", "1.35"])("%s: every generated field exists in its kubeadm API version", (version) => {
  const spec = devSpec({}, version);
  const cp = controlPlaneNode(spec);
  const all = [
    ...docs(initConfigYaml(spec, cp, TOKEN, certSans(cp, "203.0.113.7"))),
    ...docs(joinConfigYaml(spec, workerNodes(spec)[0], TOKEN, HASH, "192.168.56.10:6443")),
  ];
  for (const d of all.filter((x) => x.apiVersion.startsWith("kubeadm.k8s.io/"))) {
    const api = d.apiVersion.split("/")[1];
    expect({ kind: d.kind, unknown: Object.keys(d).filter((k) => !FIELDS[d.kind][api].includes(k)) }).toEqual({ kind: d.kind, unknown: [] });
    if (d.nodeRegistration) expect(Object.keys(d.nodeRegistration).filter((k) => !NODE_REGISTRATION.includes(k))).toEqual([]);
  }
});
