// Stack config -> KubeadmClusterArgs, unvalidated (KubeadmCluster validates, reporting every problem
// at once). sshPrivateKey is read as plain text so its format can be checked; the component wraps it
// in a secret before anything else sees it.
import * as pulumi from "@pulumi/pulumi";
import { rawStackConfig } from "../config";
import { KubeadmClusterArgs } from "./args";

export function readClusterArgs(cfg: pulumi.Config = new pulumi.Config()): KubeadmClusterArgs {
  const raw = rawStackConfig(cfg);
  const keyText = pulumi.runtime.getConfig(`${cfg.name}:sshPrivateKey`);
  // The shape is checked by the validator; until then the raw values are only passed through.
  const args = raw as unknown as KubeadmClusterArgs;
  // Plain text so KubeadmCluster can check its format; it is made a secret there before any use.
  return keyText === undefined || keyText === "" ? args : { ...args, sshPrivateKey: keyText };
}
