// Reading from Pulumi: the stack config as `pulumi up` hands it to the program, into buildClusterSpec.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../spec";
import { buildClusterSpec } from "./build";
import { ConfigError, RawConfig } from "./reader";
import { privateKeyProblem } from "./ssh";

/** Top-level keys whose values are structured (JSON in pulumi config). */
const OBJECT_KEYS = ["nodes", "nodeCount", "ssh", "kubernetes", "mirrors", "flannel", "metricsServer", "kubeletCsrApprover", "demo", "virtualbox", "aliyun", "existing"];

/**
 * Reads the stack config of project kubeadm-cluster and returns the validated spec (throws ConfigError).
 * sshPrivateKey is read as text so it can be checked for the mistakes that would otherwise only show
 * up as an SSH failure (the .pub file, a passphrase), and is a secret from then on.
 */
export function readClusterSpec(cfg: pulumi.Config = new pulumi.Config()): ClusterSpec {
  return buildClusterSpecWithKey(rawStackConfig(cfg), pulumi.runtime.getConfig(`${cfg.name}:sshPrivateKey`));
}

/**
 * buildClusterSpec with the SSH private key as given by a stack or a program: a plain-text key is
 * checked (its problem reported with all the others) and made a secret; an Output is already secret.
 */
export function buildClusterSpecWithKey(raw: RawConfig, key: pulumi.Input<string> | undefined): ClusterSpec {
  const keyProblem = typeof key === "string" ? privateKeyProblem(key) : undefined;
  const privateKey = key === undefined || key === "" ? undefined : pulumi.secret(pulumi.output(key));
  try {
    const spec = buildClusterSpec(raw, privateKey ? { privateKey } : {});
    if (keyProblem) throw new ConfigError([keyProblem]);
    return spec;
  } catch (e) {
    if (e instanceof ConfigError && keyProblem && !e.problems.includes(keyProblem)) throw new ConfigError([...e.problems, keyProblem]);
    throw e;
  }
}

/** Every key of the project's namespace but sshPrivateKey (read as a secret), structured values parsed. */
export function rawStackConfig(cfg: pulumi.Config): Record<string, unknown> {
  const ns = `${cfg.name}:`;
  const raw: Record<string, unknown> = {};
  // allConfig() also reveals keys no one reads (typos like `kubernets`), which buildClusterSpec reports.
  for (const full of Object.keys(pulumi.runtime.allConfig())) {
    if (!full.startsWith(ns)) continue;
    const k = full.slice(ns.length);
    if (k === "sshPrivateKey") continue;
    const v = cfg.get(k);
    if (v === undefined) continue;
    if (OBJECT_KEYS.includes(k)) {
      try {
        raw[k] = JSON.parse(v);
      } catch {
        raw[k] = v; // reported by buildClusterSpec as "must be an object/list"
      }
    } else {
      raw[k] = v;
    }
  }
  return raw;
}
