// The one shape every machine provider returns; everything downstream (node prep, init, join)
// depends only on this, so the node lifecycle is identical for VirtualBox, Aliyun and existing hosts.
import * as pulumi from "@pulumi/pulumi";
import { NodeRole } from "../spec";

export interface SshConnection {
  readonly host: pulumi.Input<string>;
  readonly port: number;
  readonly user: string;
  /** Secret. */
  readonly privateKey: pulumi.Input<string>;
  /**
   * How long the node's first command (`<node>-ssh-ready`) keeps dialing a machine that is still
   * booting: this many dials (-1 = unlimited) of perDialTimeout seconds each. Every other command uses
   * a fixed, short policy (components/node/connection.ts), so tuning the boot wait re-runs nothing else.
   */
  readonly dialErrorLimit: number;
  /** Seconds per dial attempt while waiting for boot. */
  readonly perDialTimeout: number;
}

export interface Host {
  readonly name: string;
  readonly role: NodeRole;
  /** The node IP Kubernetes uses (host-only IP on VirtualBox, private IP on Aliyun). */
  readonly nodeIp: string;
  /** A public address for certSANs and the kubeconfig server, when the machine has one. */
  readonly publicAddress?: pulumi.Output<string>;
  readonly connection: SshConnection;
  /**
   * Changes whenever the machine is recreated (VirtualBox VM UUID, ECS instance id, or a constant for
   * existing hosts). Commands put it in `triggers`, so a fresh machine is prepared and joined again.
   */
  readonly machineId: pulumi.Output<string>;
  /** The resource whose deletion makes SSH cleanup pointless (`deletedWith`). Undefined for existing hosts. */
  readonly machine?: pulumi.Resource;
  /**
   * The machine's SSH host public key ("ecdsa-sha2-nistp256 AAAA..."), pinned in every connection, or
   * undefined when it is not known (a machine created before keys were pinned, an existing host without
   * nodes[].hostKey): then the connection accepts any host key, as OpenSSH's StrictHostKeyChecking=no.
   */
  readonly hostKey?: pulumi.Output<string | undefined>;
}
