// SSH host keys for machines the program creates: generated in the program (secret in state), handed
// to the machine by cloud-init, pinned in every connection. Without pinning the command provider
// accepts any host key (pulumi-command remote/connection.go SSHConfig: ssh.InsecureIgnoreHostKey), so
// on a public IP a man in the middle would receive the bootstrap token on stdin.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/**
 * ECDSA P-256: Go's x/crypto/ssh client (the provider's) lists ECDSA host key algorithms before
 * ed25519 (ssh/common.go supportedHostKeyAlgos), so the pinned key is the one it negotiates whatever
 * else the server offers; and the machine is given no other key type anyway (hostKeyCloudConfig).
 */
export function hostKeyPair(name: string, opts: pulumi.CustomResourceOptions): tls.PrivateKey {
  return new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
}

/** The "ecdsa-sha2-nistp256 AAAA..." line of a generated key (type and key, no comment). */
export function publicKeyLine(key: tls.PrivateKey): pulumi.Output<string> {
  return key.publicKeyOpenssh.apply((k) => k.trim().split(/\s+/).slice(0, 2).join(" "));
}

/** OpenSSH's fingerprint of a public key line: "SHA256:<base64 without padding>". */
export function fingerprint(line: string): string {
  const blob = line.trim().split(/\s+/)[1] ?? "";
  return `SHA256:${crypto.createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/**
 * cloud-config keys that install the host key (cloud-init cc_ssh: `ssh_keys` <type>_private/_public
 * are written to /etc/ssh/ssh_host_<type>_key), remove the image's own keys (`ssh_deletekeys`) and
 * generate no other type (`ssh_genkeytypes: []`), so the machine presents exactly the pinned key.
 */
export interface HostKeyCloudConfig {
  readonly ssh_deletekeys: boolean;
  readonly ssh_genkeytypes: readonly string[];
  readonly ssh_keys: { readonly ecdsa_private: string; readonly ecdsa_public: string };
}

export function hostKeyCloudConfig(privateKeyOpenssh: string, publicLine: string): HostKeyCloudConfig {
  return {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    ssh_keys: { ecdsa_private: privateKeyOpenssh, ecdsa_public: publicLine },
  };
}
