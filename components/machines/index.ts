// Entry point for machines: one Host per spec.nodes entry, in the same order, whatever the provider.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../spec";
import { Host } from "./host";
import { VirtualBoxMachines } from "./virtualbox";
import { AliyunMachines } from "./aliyun";
import { existingHosts } from "./existing";

export { VirtualBoxMachines } from "./virtualbox";
export { AliyunMachines } from "./aliyun";
export { existingHosts, existingMachineId } from "./existing";

export function provisionMachines(
  spec: ClusterSpec,
  ssh: { privateKey: pulumi.Output<string>; publicKey: pulumi.Input<string> },
  opts: pulumi.ComponentResourceOptions,
): Host[] {
  return provisionMachinesAndEndpoint(spec, ssh, opts).hosts;
}

/** What the cloud provides for the control-plane endpoint (HA on Aliyun: the API load balancer). */
export interface CloudEndpoint {
  /** What must exist before kubeadm init uses the endpoint. */
  readonly ready: readonly pulumi.Resource[];
  /** The public address users reach the API on, when there is one. */
  readonly publicAddress?: pulumi.Output<string>;
  /** Every address of the load balancer, for the API server's certificate. */
  readonly certSans: pulumi.Output<string[]>;
}

export function provisionMachinesAndEndpoint(
  spec: ClusterSpec,
  ssh: { privateKey: pulumi.Output<string>; publicKey: pulumi.Input<string> },
  opts: pulumi.ComponentResourceOptions,
): { hosts: Host[]; endpoint?: CloudEndpoint } {
  const name = `${spec.clusterName}-machines`;
  switch (spec.provider) {
    case "virtualbox":
      return { hosts: new VirtualBoxMachines(name, { spec, privateKey: ssh.privateKey, publicKey: ssh.publicKey }, opts).hosts };
    case "aliyun": {
      const e = spec.kubernetes.controlPlaneEndpoint;
      const apiLoadBalancer = e?.holder === "aliyun-nlb" ? { endpointIp: e.address, secondVswitchCidr: e.lbVswitchCidr } : undefined;
      const m = new AliyunMachines(name, { spec, privateKey: ssh.privateKey, publicKey: ssh.publicKey, ...(apiLoadBalancer ? { apiLoadBalancer } : {}) }, opts);
      const lb = m.apiLoadBalancer;
      return {
        hosts: m.hosts,
        ...(lb
          ? { endpoint: { ready: lb.ready, publicAddress: lb.publicAddresses.apply((a) => a[0] ?? ""), certSans: lb.certSans } }
          : {}),
      };
    }
    case "existing":
      // Nothing to create: no component, so no empty node in the graph.
      return { hosts: existingHosts(spec, ssh.privateKey) };
  }
}
