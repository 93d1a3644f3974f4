// VirtualBox VMs from the Ubuntu 22.04 cloud image, one `<cluster>-<node>-vm` local.Command each (in
// parallel), each VM a linked clone of a base VM imported once per image. The command runs
// scripts/vm/vbox.js create|update|delete with the plan (virtualbox-plan.ts) on stdin: no shell, so
// quoting is identical on Linux, macOS and Windows.
//
// Reconcile, not replace: the command has an `update` and neither `replaceOnChanges` nor `triggers`
// (adding either to a VM deployed by v0.1 would itself replace it: a new triggers/replaceOnChanges path
// is a change to the engine). vbox.js decides from the plan's identity hash whether the VM stays, is
// rebuilt (new UUID, so the node commands, which have the UUID in their `triggers`, run again) or,
// when v0.1 made it, is adopted as it is.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { ClusterSpec } from "../spec";
import { Host } from "./host";
import { vboxPlan } from "./virtualbox-plan";
import { HOST_KEY_LINE } from "./cloud-init";
import { sshConnection } from "./connection";
import { localHelperInterpreter } from "../local-helper";

/** What the VirtualBox machines need from the cluster description. */
export type VirtualBoxSettings = Pick<ClusterSpec, "clusterName" | "nodes" | "ssh" | "kubernetes" | "virtualbox">;

export interface VirtualBoxMachinesArgs {
  readonly spec: VirtualBoxSettings;
  readonly privateKey: pulumi.Input<string>;
  readonly publicKey: pulumi.Input<string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What vbox.js prints on stdout: the VM UUID, then `hostkey <line>` when the VM has the pinned host key. */
export interface VmOutput {
  /** Lower-case, exactly as v0.1 parsed it (node commands have it in their `triggers`). */
  readonly uuid: string;
  readonly hostKey: string | undefined;
}

export function parseVmOutput(stdout: string): VmOutput {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const uuid = lines.find((l) => UUID.test(l));
  if (!uuid) throw new Error(`vbox.js printed no VM UUID (got ${JSON.stringify((lines[0] ?? "").slice(0, 80))})`);
  const keyLine = lines.find((l) => l.startsWith("hostkey "));
  const hostKey = keyLine?.slice("hostkey ".length).trim();
  if (hostKey !== undefined && !HOST_KEY_LINE.test(hostKey)) throw new Error(`vbox.js printed a host key that is not one "ecdsa-sha2-nistp256 AAAA..." line`);
  return { uuid: uuid.toLowerCase(), hostKey };
}

/** Seconds the create/update command may take: the base lock wait and import (~30 min worst case) plus the boot wait. */
export function vmCreateTimeoutSeconds(bootTimeoutSeconds: number): number {
  return 1800 + bootTimeoutSeconds;
}

export class VirtualBoxMachines extends pulumi.ComponentResource {
  public readonly hosts: Host[];

  constructor(name: string, args: VirtualBoxMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kubeadm:vm:VirtualBoxMachines", name, {}, opts);
    const { spec } = args;
    const vb = spec.virtualbox;
    if (!vb) throw new Error("internal: VirtualBoxMachines without spec.virtualbox");

    this.hosts = spec.nodes.map((node) => {
      // The VM's SSH host key, made here so it can be pinned: ECDSA P-256 because Go's x/crypto/ssh
      // client (the command provider's) lists ECDSA host key algorithms before ed25519, so a server that
      // has only this key presents it whatever order the provider asks in. The private key is a secret
      // in the state and reaches the VM only through the seed on the (secret) stdin.
      const hostKey = new tls.PrivateKey(`${spec.clusterName}-${node.name}-host-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const plan = pulumi
        .all([args.publicKey, hostKey.publicKeyOpenssh, hostKey.privateKeyOpenssh])
        .apply(([key, pub, priv]) => JSON.stringify(vboxPlan(spec, node, key, { publicKey: pub.trim(), privateKey: priv }), null, 1));
      const timeout = `${vmCreateTimeoutSeconds(vb.bootTimeoutSeconds)}s`;
      const vm = new command.local.Command(
        `${spec.clusterName}-${node.name}-vm`,
        {
          interpreter: localHelperInterpreter("vm/vbox.js"),
          create: "create",
          update: "update",
          delete: "delete",
          stdin: pulumi.secret(plan),
          // The previous stdout (a UUID) is of no use to the helper.
          addPreviousOutputInEnv: false,
        },
        {
          parent: this,
          // Only for an explicit `pulumi up --replace`: the old VM has the same name and IP, so it goes first.
          deleteBeforeReplace: true,
          customTimeouts: { create: timeout, update: timeout, delete: "10m" },
        },
      );
      // stdout holds only the UUID and a public key. unsecret: whatever the provider does with outputs of
      // a resource with a secret input, machineId stays the plain UUID v0.1 stacks have in `triggers`.
      const out = pulumi.unsecret(vm.stdout).apply(parseVmOutput);
      const machineId = out.apply((o) => o.uuid);
      return {
        name: node.name,
        role: node.role,
        nodeIp: node.ip,
        // Through the VM's output, so anything that connects waits for the VM to answer SSH. The cloud
        // image's sshd listens on 22.
        connection: sshConnection(machineId.apply(() => node.ip), 22, spec.ssh.user, args.privateKey, spec.ssh.connectTimeoutSeconds),
        machineId,
        machine: vm,
        // Undefined for a VM adopted from v0.1 (it has its own, unknown key) until it is rebuilt.
        hostKey: out.apply((o) => o.hostKey),
      };
    });
    this.registerOutputs({ machineIds: this.hosts.map((h) => h.machineId) });
  }
}
