// Existing hosts (made by anything else): a Host per spec node, nothing created or deleted.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, NodeSpec } from "../spec";
import { Host } from "./host";
import { sshConnection } from "./connection";

/** Constant per machine identity: re-running never re-prepares a host unless its name or IP changes. */
export function existingMachineId(node: NodeSpec): string {
  return `existing:${node.name}@${node.ip}`;
}

export function existingHosts(spec: Pick<ClusterSpec, "nodes" | "ssh">, privateKey: pulumi.Input<string>): Host[] {
  return spec.nodes.map((node) => ({
    name: node.name,
    role: node.role,
    nodeIp: node.ip,
    publicAddress: node.publicIp === undefined ? undefined : pulumi.output(node.publicIp),
    connection: sshConnection(node.sshHost ?? node.ip, node.sshPort ?? spec.ssh.port, spec.ssh.user, privateKey, spec.ssh.connectTimeoutSeconds),
    machineId: pulumi.output(existingMachineId(node)),
    machine: undefined,
    // Pinned when the user gave the host's key (nodes[].hostKey); otherwise accepted as it comes.
    hostKey: node.hostKey === undefined ? undefined : pulumi.output<string | undefined>(node.hostKey),
  }));
}
