// Composes the whole graph from a validated ClusterSpec:
//   machines -> NodePrep (all nodes in parallel) -> ControlPlane -> Workers (joins in parallel)
//   -> k8s.Provider(kubeconfig) -> Flannel, MetricsServer (in parallel) -> DemoApp.
// Only wiring lives here; every decision is in the components' pure functions.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as tls from "@pulumi/tls";
import { ClusterSpec } from "../spec";
import { Host } from "../machines/host";
import { provisionMachines } from "../machines";
import { NodePrep } from "../node/node-prep";
import { ControlPlane } from "../node/control-plane";
import { Worker } from "../node/worker";
import { Flannel } from "../addons/flannel";
import { MetricsServer } from "../addons/metrics-server";
import { DemoApp } from "../addons/demo-app";

export interface NodeSummary {
  readonly name: string;
  readonly role: string;
  readonly ip: string;
  readonly sshHost: pulumi.Output<string>;
  readonly sshPort: number;
  readonly sshUser: string;
}

export interface ClusterOutputs {
  /** admin kubeconfig (secret), server = an address the Pulumi host can reach. */
  readonly kubeconfig: pulumi.Output<string>;
  readonly apiEndpoint: pulumi.Output<string>;
  readonly nodes: NodeSummary[];
  /** ClusterIP of the demo Service, or undefined when the demo is off. */
  readonly demoServiceClusterIp?: pulumi.Output<string>;
  /** Secret; only when the program generated the SSH key (no sshPrivateKey configured). */
  readonly sshPrivateKey?: pulumi.Output<string>;
  readonly hosts: Host[];
}

/** SSH key pair to use: the configured one, or a generated ed25519 pair kept (secret) in state. */
function sshKeys(spec: ClusterSpec): { privateKey: pulumi.Output<string>; publicKey: pulumi.Input<string>; generated: boolean } {
  if (spec.ssh.privateKey) {
    return { privateKey: spec.ssh.privateKey, publicKey: spec.ssh.publicKey ?? "", generated: false };
  }
  const key = new tls.PrivateKey("ssh-key", { algorithm: "ED25519" });
  return {
    privateKey: pulumi.secret(key.privateKeyOpenssh),
    // cloud-init and Aliyun want the bare "ssh-ed25519 AAAA..." line.
    publicKey: key.publicKeyOpenssh.apply((k) => k.trim()),
    generated: true,
  };
}

export function buildCluster(spec: ClusterSpec): ClusterOutputs {
  const keys = sshKeys(spec);
  const hosts = provisionMachines(spec, { privateKey: keys.privateKey, publicKey: keys.publicKey }, {});

  const preps = new Map<string, NodePrep>();
  for (const host of hosts) preps.set(host.name, new NodePrep(host.name, { spec, host }));
  const prepOf = (h: Host): NodePrep => {
    const p = preps.get(h.name);
    if (!p) throw new Error(`internal: no NodePrep for ${h.name}`);
    return p;
  };

  const cpHost = hosts.find((h) => h.role === "control-plane");
  if (!cpHost) throw new Error("internal: validated spec has no control plane");
  const controlPlane = new ControlPlane(cpHost.name, { spec, host: cpHost, prep: prepOf(cpHost) });

  const workers = hosts
    .filter((h) => h.role === "worker")
    .map((h) => new Worker(h.name, { spec, host: h, prep: prepOf(h), controlPlane }));

  // The provider waits for every join: all Kubernetes objects then depend on the nodes, so
  // `pulumi destroy` deletes them before any node is reset, and the demo's pods have workers to run on.
  const provider = new k8s.Provider(
    "k8s",
    {
      kubeconfig: controlPlane.kubeconfig,
      // Replacing admin.conf text (e.g. cert renewal) must not replace every object.
      clusterIdentifier: `${spec.clusterName}-${pulumi.getStack()}`,
      // Lets destroy finish when the machines are already gone.
      deleteUnreachable: true,
    },
    { dependsOn: [controlPlane.ready, ...workers.map((w) => w.joined)] },
  );

  const addonReady: pulumi.Resource[] = [];
  if (spec.flannel.enabled) addonReady.push(...new Flannel("flannel", { spec }, { provider }).ready);
  if (spec.metricsServer.enabled) addonReady.push(...new MetricsServer("metrics-server", { spec }, { provider }).ready);
  const demo = spec.demo.enabled ? new DemoApp("demo", { spec, dependsOn: addonReady }, { provider }) : undefined;

  const nodes: NodeSummary[] = hosts.map((h) => ({
    name: h.name,
    role: h.role,
    ip: h.nodeIp,
    sshHost: pulumi.output(h.connection.host),
    sshPort: h.connection.port,
    sshUser: h.connection.user,
  }));

  return {
    kubeconfig: controlPlane.kubeconfig,
    // The address users reach: the public IP when the machine has one (Aliyun), else the node IP.
    apiEndpoint: cpHost.publicAddress
      ? pulumi.interpolate`https://${cpHost.publicAddress}:6443`
      : pulumi.output(`https://${cpHost.nodeIp}:6443`),
    nodes,
    demoServiceClusterIp: demo?.service.spec.clusterIP,
    sshPrivateKey: keys.generated ? keys.privateKey : undefined,
    hosts,
  };
}
