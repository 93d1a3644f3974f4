// The `virtualbox` block (provider virtualbox only): VBoxManage, the host-only network, the cloud image
// and the VM sizes; and the machine network it gives the nodes.
import { Cidr, cidrContainsCidr, lastAddress, mustParseCidr } from "../net";
import { VirtualBoxSpec, VmSize } from "../spec";
import { MachineNet, machineNetIn } from "./nodes";
import { Block, Problems, checkLocalPath, readCidr } from "./reader";

/** VirtualBox 7 on Linux/macOS only allows host-only IPs here without /etc/vbox/networks.conf [FACTS §6.5]. */
const VBOX_ALLOWED_RANGE = mustParseCidr("192.168.56.0/21");
/** Every VM's NAT NIC (NIC1) lives here [FACTS §6.6]; pod/service ranges overlapping it break routing. */
export const VBOX_NAT_NETWORK = mustParseCidr("10.0.2.0/24");
/** VirtualBox's default host-only network (vboxnet0). */
const DEFAULT_HOST_ONLY_CIDR = "192.168.56.0/24";

export interface VirtualBoxRead {
  readonly spec: VirtualBoxSpec | undefined;
  readonly cidr: Cidr | undefined;
}

export function readVirtualBox(b: Block, probs: Problems): VirtualBoxRead {
  const { text: hostOnlyCidr, cidr } = readHostOnlyCidr(b, probs);
  const imagePath = b.reqStr("imagePath",
    'download the Ubuntu 22.04 cloud image (https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.ova) and set virtualbox.imagePath to its absolute path',
    (s) => checkLocalPath(s) ?? (/\.(ova|vmdk)$/i.test(s) ? undefined : "must be an Ubuntu 22.04 cloud image ending in .ova or .vmdk"));
  const baseFolder = b.str("baseFolder", undefined, checkLocalPath);
  const spec = {
    vboxManage: b.str("vboxManage", "VBoxManage"),
    hostOnlyAdapter: b.str("hostOnlyAdapter", "vboxnet0"),
    hostOnlyCidr: cidr ? cidr.text : hostOnlyCidr,
    imagePath: imagePath ?? "",
    ...(baseFolder !== undefined ? { baseFolder } : {}),
    controlPlane: readVmSize(b, "controlPlane", { cpus: 2, memoryMb: 4096, diskGb: 20 }),
    worker: readVmSize(b, "worker", { cpus: 2, memoryMb: 2048, diskGb: 20 }),
    bootTimeoutSeconds: b.int("bootTimeoutSeconds", 600, { min: 30, max: 7200 }),
  };
  b.finish();
  return { spec, cidr };
}

/** `virtualbox.hostOnlyCidr` with `allowOutsideDefaultRange`: a range VirtualBox accepts, with room for the nodes. */
function readHostOnlyCidr(b: Block, probs: Problems): { text: string; cidr: Cidr | undefined } {
  const { text: hostOnlyCidr, cidr } = readCidr(b, "hostOnlyCidr", DEFAULT_HOST_ONLY_CIDR);
  const allowOutside = b.bool("allowOutsideDefaultRange", false);
  if (cidr && !allowOutside && !cidrContainsCidr(VBOX_ALLOWED_RANGE, cidr)) {
    probs.bad(b.key("hostOnlyCidr"), hostOnlyCidr,
      "outside 192.168.56.0/21: VirtualBox 6.1.28+ on Linux/macOS refuses host-only addresses outside that range (E_ACCESSDENIED) unless /etc/vbox/networks.conf allows them; " +
      'use e.g. "192.168.56.0/24", or add a line like "* 10.0.0.0/8 192.168.0.0/16" to /etc/vbox/networks.conf and set virtualbox.allowOutsideDefaultRange: true (Windows hosts are not restricted)');
  }
  if (cidr && cidr.prefix > 29) probs.bad(b.key("hostOnlyCidr"), hostOnlyCidr, "too small: needs room for the host address and the nodes; use /29 or larger, e.g. /24");
  return { text: hostOnlyCidr, cidr };
}

function readVmSize(parent: Block, k: "controlPlane" | "worker", def: VmSize): VmSize {
  const b = parent.block(k);
  const cp = k === "controlPlane";
  const size: VmSize = {
    cpus: b.int("cpus", def.cpus, { min: 2, max: 64, hint: "kubeadm's preflight needs at least 2 CPUs" }),
    memoryMb: b.int("memoryMb", def.memoryMb, { min: 2048, max: 1048576, hint: `kubeadm needs about 2 GiB${cp ? "; 4096 recommended for the control plane" : ""}` }),
    diskGb: b.int("diskGb", def.diskGb, { min: 10, max: 2048, hint: "images and etcd need room" }),
  };
  b.finish();
  return size;
}

/** The host-only network node IPs must be inside, and the addresses in it no node may take. */
export function virtualBoxMachineNet(vb: VirtualBoxRead | undefined): MachineNet {
  return machineNetIn(vb?.cidr, mustParseCidr(DEFAULT_HOST_ONLY_CIDR), "virtualbox.hostOnlyCidr", (c) => [
    [c.network, "the network address of virtualbox.hostOnlyCidr"],
    [c.network + 1, "the host's own address on the host-only adapter (.1)"],
    // VirtualBox's host-only DHCP server sits on .100 (and hands out .101-.254) by default
    // (`VBoxManage list dhcpservers` on a fresh vboxnet0: IP 192.168.56.100, lower .101, upper .254).
    ...(c.prefix <= 25 ? ([[c.network + 100, "VirtualBox's host-only DHCP server address (.100)"]] as [number, string][]) : []),
    [lastAddress(c), "the broadcast address of virtualbox.hostOnlyCidr"],
  ]);
}
