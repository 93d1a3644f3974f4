// What scripts/vm/vbox.js does for one VirtualBox VM, decided here as data (pure; tests read it):
// the VBoxManage argument arrays, the NoCloud seed files and the SSH wait. The helper executes argv
// arrays with execFileSync, so a name or path with spaces or quotes is one argument on every OS.
import * as crypto from "crypto";
import * as path from "path";
import { ClusterSpec, NodeSpec, VirtualBoxSpec } from "../spec";
import { parseCidr, parseIpv4, cidrContains } from "../net";
import { nicMac, vboxMac, seedFiles, SeedFiles } from "./cloud-init";

/** Plan format version: bump when vbox.js changes how it reads the plan. */
export const VBOX_PLAN_VERSION = 1;

/** "@vmdir/<file>" inside an argument is replaced by that file's path in the VM's folder (known only once the VM exists). */
export const VM_DIR_PREFIX = "@vmdir/";

/** Extradata key marking a VM as created by this program for one cluster node. */
export const OWNER_KEY = "kubeadm-cluster/owner";

export interface VboxPlan {
  readonly version: number;
  /** VBoxManage executable (a name on PATH or a path). */
  readonly vboxManage: string;
  readonly vmName: string;
  /** Value of extradata OWNER_KEY: `<clusterName>/<node>`. A VM with that name and another owner is never touched. */
  readonly owner: string;
  /** The cloud image, for messages. */
  readonly image: string;
  /**
   * VBoxManage calls that create and register the VM with its system disk (a VDI copy of the image).
   * The first one registers the VM; the helper marks it as ours right after, then runs the rest.
   */
  readonly create: readonly (readonly string[])[];
  /** modifyvm calls applied after import, in order. */
  readonly configure: readonly (readonly string[])[];
  /** The system disk is grown to this size (MiB) if smaller; never shrunk. */
  readonly diskMb: number;
  /** NoCloud seed written as an ISO 9660 + Joliet image into the VM folder and attached as a DVD. */
  readonly seed: { readonly fileName: string; readonly volumeId: "cidata"; readonly files: SeedFiles };
  readonly start: readonly string[];
  /** TCP port polled until an SSH banner answers, bounded by timeoutSeconds. */
  readonly waitForSsh: { readonly host: string; readonly port: number; readonly timeoutSeconds: number };
  /** Files the helper writes into the VM folder, removed on delete (unregistervm --delete does not know them). */
  readonly extraFiles: readonly string[];
}

/** VM name on the host: cluster prefix keeps two clusters' "k8s-worker" apart. */
export function vmName(clusterName: string, node: NodeSpec): string {
  return `${clusterName}-${node.name}`;
}

/** NIC names inside the guest: the NAT NIC keeps enp0s3; the cluster NIC is the one Kubernetes uses. */
export function guestNics(spec: Pick<ClusterSpec, "kubernetes">): { nat: string; cluster: string } {
  return { nat: "enp0s3", cluster: spec.kubernetes.nic ?? "enp0s8" };
}

/**
 * How the VM comes to exist, by image type. An .ova/.ovf (the documented download) is imported with
 * its disk converted to VDI (VDI can be resized; the image's VMDK cannot). A bare .vmdk/.vdi disk gets
 * a new VM with a SATA controller and a VDI clone of the disk.
 */
export function createSteps(vb: VirtualBoxSpec, name: string): string[][] {
  const ext = path.extname(vb.imagePath).toLowerCase();
  const base = vb.baseFolder ? [`--basefolder=${vb.baseFolder}`] : [];
  if (ext === ".ova" || ext === ".ovf") {
    return [["import", vb.imagePath, "--vsys=0", `--vmname=${name}`, "--options=importtovdi", ...base]];
  }
  if (ext === ".vmdk" || ext === ".vdi") {
    return [
      ["createvm", `--name=${name}`, "--ostype=Ubuntu_64", "--register", ...base],
      ["storagectl", name, "--name=SATA", "--add=sata", "--controller=IntelAhci", "--portcount=2"],
      ["clonemedium", "disk", vb.imagePath, `${VM_DIR_PREFIX}disk.vdi`, "--format=VDI"],
      ["storageattach", name, "--storagectl=SATA", "--port=0", "--device=0", "--type=hdd", `--medium=${VM_DIR_PREFIX}disk.vdi`],
    ];
  }
  throw new Error(`virtualbox.imagePath ${vb.imagePath}: expected the Ubuntu 22.04 cloud image as .ova (or a .vmdk/.vdi disk); qcow2 .img files do not work in VirtualBox`);
}

function sizeFor(vb: VirtualBoxSpec, node: NodeSpec) {
  return node.role === "control-plane" ? vb.controlPlane : vb.worker;
}

export function vboxPlan(spec: Pick<ClusterSpec, "clusterName" | "ssh" | "kubernetes" | "virtualbox">, node: NodeSpec, sshPublicKey: string): VboxPlan {
  const vb = spec.virtualbox;
  if (!vb) throw new Error("internal: virtualbox plan without spec.virtualbox");
  const cidr = parseCidr(vb.hostOnlyCidr);
  if (!cidr.ok) throw new Error(`virtualbox.hostOnlyCidr ${vb.hostOnlyCidr}: ${cidr.reason}`);
  const ip = parseIpv4(node.ip);
  if (ip === undefined || !cidrContains(cidr.cidr, ip)) {
    throw new Error(`node ${node.name}: ip ${node.ip} is not inside the host-only network ${vb.hostOnlyCidr}; the host could not reach it`);
  }
  const name = vmName(spec.clusterName, node);
  const size = sizeFor(vb, node);
  const nics = guestNics(spec);
  const natMac = nicMac(name, 1);
  const clusterMac = nicMac(name, 2);
  const seedInput = {
    hostname: node.name,
    instanceId: "",
    sshUser: spec.ssh.user,
    sshPublicKey,
    natMac,
    natIfName: nics.nat,
    clusterMac,
    clusterIfName: nics.cluster,
    nodeIp: node.ip,
    prefixLength: cidr.cidr.prefix,
  };
  // A new instance-id whenever the seed content changes, so cloud-init applies it as a new instance.
  const instanceId = `${name}-${crypto.createHash("sha256").update(JSON.stringify(seedInput)).digest("hex").slice(0, 12)}`;
  const files = seedFiles({ ...seedInput, instanceId });

  const create = createSteps(vb, name);
  const configure: string[][] = [
    ["modifyvm", name, `--cpus=${size.cpus}`, `--memory=${size.memoryMb}`, "--ioapic=on"],
    // NIC1 NAT: internet (every VM gets 10.0.2.15 here, so Kubernetes must never use it).
    ["modifyvm", name, "--nic1=nat", `--mac-address1=${vboxMac(natMac)}`, "--cable-connected1=on"],
    // NIC2 host-only: host <-> VM and VM <-> VM; carries the node IP.
    ["modifyvm", name, "--nic2=hostonly", `--host-only-adapter2=${vb.hostOnlyAdapter}`, `--mac-address2=${vboxMac(clusterMac)}`, "--cable-connected2=on"],
    // Ubuntu cloud images write their console to ttyS0; without a serial port boots can stall.
    ["modifyvm", name, "--uart1", "0x3F8", "4", "--uart-mode1", "file", `${VM_DIR_PREFIX}serial.log`],
  ];
  return {
    version: VBOX_PLAN_VERSION,
    vboxManage: vb.vboxManage,
    vmName: name,
    owner: `${spec.clusterName}/${node.name}`,
    image: vb.imagePath,
    create,
    configure,
    diskMb: size.diskGb * 1024,
    seed: { fileName: "cidata.iso", volumeId: "cidata", files },
    start: ["startvm", name, "--type", "headless"],
    waitForSsh: { host: node.ip, port: 22, timeoutSeconds: vb.bootTimeoutSeconds },
    extraFiles: ["cidata.iso", "serial.log"],
  };
}

/** The argv local.Command runs: `node scripts/vm/vbox.js <action>` with the plan on stdin. */
export const VBOX_INTERPRETER: readonly string[] = ["node", "scripts/vm/vbox.js"];
