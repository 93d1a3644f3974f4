// Reading from Pulumi: the stack config as `pulumi up` hands it to the program, into buildClusterSpec.
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec } from "../spec";
import { buildClusterSpec } from "./build";
import { ConfigError } from "./reader";
import { privateKeyProblem } from "./ssh";

/** Top-level keys whose values are structured (JSON in pulumi config). */
const OBJECT_KEYS = ["nodes", "nodeCount", "ssh", "kubernetes", "mirrors", "flannel", "metricsServer", "demo", "virtualbox", "aliyun"];

/**
 * Reads the stack config of project kubeadm-cluster and returns the validated spec (throws ConfigError).
 * sshPrivateKey is read with getSecret, so it stays a secret; its text is checked for the mistakes
 * that would otherwise only show up as an SSH failure (the .pub file, a passphrase).
 */
export function readClusterSpec(cfg: pulumi.Config = new pulumi.Config()): ClusterSpec {
  const ns = `${cfg.name}:`;
  const raw = rawConfigFromPulumi(cfg);
  const keyText = pulumi.runtime.getConfig(`${ns}sshPrivateKey`);
  const privateKey = cfg.getSecret("sshPrivateKey");
  const extra = keyText !== undefined ? privateKeyProblem(keyText) : undefined;
  try {
    const spec = buildClusterSpec(raw, { privateKey: keyText === "" ? undefined : privateKey });
    if (extra) throw new ConfigError([extra]);
    return spec;
  } catch (e) {
    if (e instanceof ConfigError && extra && !e.problems.includes(extra)) throw new ConfigError([...e.problems, extra]);
    throw e;
  }
}

/** Every key of the project's namespace but sshPrivateKey (read as a secret), structured values parsed. */
function rawConfigFromPulumi(cfg: pulumi.Config): Record<string, unknown> {
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
