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
  const name = `${spec.clusterName}-machines`;
  switch (spec.provider) {
    case "virtualbox":
      return new VirtualBoxMachines(name, { spec, privateKey: ssh.privateKey, publicKey: ssh.publicKey }, opts).hosts;
    case "aliyun":
      return new AliyunMachines(name, { spec, privateKey: ssh.privateKey, publicKey: ssh.publicKey }, opts).hosts;
    case "existing":
      // Nothing to create: no component, so no empty node in the graph.
      return existingHosts(spec, ssh.privateKey);
  }
}
