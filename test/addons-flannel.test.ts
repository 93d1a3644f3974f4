// Flannel objects: the same objects as upstream kube-flannel.yml (v0.28.9), with the pod CIDR,
// backend, NIC and images from the spec.
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { FLANNEL_CNI_PLUGIN_VERSION, FLANNEL_VERSION } from "../components/versions";
import { flannelObjects, flanneldArgs } from "../components/addons/manifests/flannel";
import { ClusterSpec } from "../components/spec";
import { aliyunSpec, devSpec, existingSpec } from "./fixtures";
import { findObject, kindNameSet, plain, readReferenceManifest, ReferenceObject } from "./k8s-schema";

const upstream = readReferenceManifest("kube-flannel.yml");

function withKubernetes(spec: ClusterSpec, over: Partial<ClusterSpec["kubernetes"]>): ClusterSpec {
  return { ...spec, kubernetes: { ...spec.kubernetes, ...over } };
}
const daemonSet = (spec: ClusterSpec) => findObject<IDaemonSet>(flannelObjects(spec), "DaemonSet", "kube-flannel-ds");
const configMap = (spec: ClusterSpec) => findObject<IConfigMap>(flannelObjects(spec), "ConfigMap", "kube-flannel-cfg");
const netConf = (spec: ClusterSpec) => JSON.parse(configMap(spec).data?.["net-conf.json"] ?? "null");
const flanneld = (spec: ClusterSpec) => {
  const c = daemonSet(spec).spec?.template.spec?.containers.find((x) => x.name === "kube-flannel");
  if (!c) throw new Error("no kube-flannel container");
  return c;
};

/** JSON copy with the ConfigMap's embedded JSON parsed, so formatting whitespace does not matter. */
function normalized(objs: readonly ReferenceObject[] | ReturnType<typeof flannelObjects>): unknown[] {
  return plain(objs).map((o) => {
    const data = (o as { data?: Record<string, string> }).data;
    if (!data) return o;
    return { ...o, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, JSON.parse(v)])) };
  });
}

describe("flannel vs upstream kube-flannel.yml", () => {
  it("creates the same kinds and names", () => {
    expect(kindNameSet(flannelObjects(devSpec()))).toEqual(kindNameSet(upstream));
  });

  it("is exactly upstream when the spec has upstream's values (pod CIDR 10.244.0.0/16, vxlan, upstream images, no NIC)", () => {
    // existingSpec has no nic and the fixture's flannel images are upstream's ghcr.io ones.
    const spec = existingSpec(1);
    expect(spec.kubernetes.podSubnet).toBe("10.244.0.0/16");
    expect(spec.flannel.image).toBe(`ghcr.io/flannel-io/flannel:${FLANNEL_VERSION}`);
    expect(spec.flannel.cniPluginImage).toBe(`ghcr.io/flannel-io/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION}`);
    const sortByKey = (a: unknown[]) => [...a].sort((x, y) => kindNameSet([x as ReferenceObject])[0].localeCompare(kindNameSet([y as ReferenceObject])[0]));
    expect(sortByKey(normalized(flannelObjects(spec)))).toEqual(sortByKey(normalized(upstream)));
  });

  it("applies the namespace first and the DaemonSet last", () => {
    const kinds = flannelObjects(devSpec()).map((o) => o.kind);
    expect(kinds[0]).toBe("Namespace");
    expect(kinds[kinds.length - 1]).toBe("DaemonSet");
  });

  it("labels the namespace privileged for Pod Security (hostNetwork, NET_ADMIN, hostPath)", () => {
    const ns = findObject<ReferenceObject>(flannelObjects(devSpec()), "Namespace", "kube-flannel");
    expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });
});

describe("flannel from the spec", () => {
  it("sets Network to the pod CIDR", () => {
    expect(netConf(devSpec()).Network).toBe("10.244.0.0/16");
    expect(netConf(withKubernetes(devSpec(), { podSubnet: "10.200.0.0/16" })).Network).toBe("10.200.0.0/16");
  });

  it("sets the backend type", () => {
    expect(netConf(devSpec()).Backend).toEqual({ Type: "vxlan" });
    const d = devSpec();
    expect(netConf(devSpec({ flannel: { ...d.flannel, backend: "host-gw" } })).Backend).toEqual({ Type: "host-gw" });
  });

  it("pins --iface to the cluster NIC when one is configured (VirtualBox: enp0s8, not the NAT NIC)", () => {
    expect(flanneld(devSpec()).args).toContain("--iface=enp0s8");
    expect(flanneld(aliyunSpec()).args).toContain("--iface=eth0");
    // Exactly one --iface, after upstream's arguments.
    expect(flanneldArgs(devSpec())).toEqual(["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081", "--iface=enp0s8"]);
  });

  it("leaves --iface out without a NIC (flannel then uses the default-route interface)", () => {
    expect(flanneld(existingSpec(1)).args?.some((a) => a.startsWith("--iface"))).toBe(false);
    expect(flanneld(withKubernetes(devSpec(), { nic: undefined })).args?.some((a) => a.startsWith("--iface"))).toBe(false);
  });

  it("takes both images from the spec (e.g. a China mirror)", () => {
    const spec = aliyunSpec();
    const pod = daemonSet(spec).spec?.template.spec;
    const images = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((c) => [c.name, c.image]);
    expect(images).toEqual([
      ["install-cni-plugin", spec.flannel.cniPluginImage],
      ["install-cni", spec.flannel.image],
      ["kube-flannel", spec.flannel.image],
    ]);
    expect(spec.flannel.image).toMatch(/^docker\.m\.daocloud\.io\/flannel\//);
  });

  it("creates nothing when disabled", () => {
    const d = devSpec();
    expect(flannelObjects(devSpec({ flannel: { ...d.flannel, enabled: false } }))).toEqual([]);
  });
});
