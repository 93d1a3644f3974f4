// VirtualBox VMs from the Ubuntu 22.04 cloud image, one `<node>-vm` local.Command each (in parallel).
// The command runs `node scripts/vm/vbox.js create|delete` with the plan (virtualbox-plan.ts) on stdin:
// no shell, so quoting is identical on Linux, macOS and Windows.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ClusterSpec } from "../spec";

/** What the VirtualBox machines need from the cluster description. */
export type VirtualBoxSettings = Pick<ClusterSpec, "clusterName" | "nodes" | "ssh" | "kubernetes" | "virtualbox">;
import { Host } from "./host";
import { vboxPlan, VBOX_INTERPRETER } from "./virtualbox-plan";
import { sshConnection } from "./connection";

export interface VirtualBoxMachinesArgs {
  readonly spec: VirtualBoxSettings;
  readonly privateKey: pulumi.Input<string>;
  readonly publicKey: pulumi.Input<string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The VM UUID from the helper's stdout (its last line); anything else is a helper bug. */
export function parseVmUuid(stdout: string): string {
  const last = stdout.trim().split(/\r?\n/).pop()?.trim() ?? "";
  if (!UUID.test(last)) throw new Error(`vbox.js printed no VM UUID (got ${JSON.stringify(last.slice(0, 80))})`);
  return last.toLowerCase();
}

/** Seconds the create command may take: import + configure (~10 min worst case) plus the boot wait. */
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
      const plan = pulumi.output(args.publicKey).apply((key) => JSON.stringify(vboxPlan(spec, node, key), null, 1));
      const vm = new command.local.Command(
        `${spec.clusterName}-${node.name}-vm`,
        {
          interpreter: [...VBOX_INTERPRETER],
          create: "create",
          delete: "delete",
          stdin: plan,
          // The previous stdout (a UUID) is of no use to the helper.
          addPreviousOutputInEnv: false,
        },
        {
          parent: this,
          // Any change (size, image, key, IP) means a new VM: delete the old one first, since both
          // would have the same name and IP.
          replaceOnChanges: ["*"],
          deleteBeforeReplace: true,
          customTimeouts: { create: `${vmCreateTimeoutSeconds(vb.bootTimeoutSeconds)}s`, delete: "10m" },
        },
      );
      const machineId = vm.stdout.apply(parseVmUuid);
      return {
        name: node.name,
        role: node.role,
        nodeIp: node.ip,
        // Through the VM's output, so anything that connects waits for the VM to answer SSH. The cloud
        // image's sshd listens on 22.
        connection: sshConnection(machineId.apply(() => node.ip), 22, spec.ssh.user, args.privateKey, spec.ssh.connectTimeoutSeconds),
        machineId,
        machine: vm,
      };
    });
    this.registerOutputs({ machineIds: this.hosts.map((h) => h.machineId) });
  }
}
