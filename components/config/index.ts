// The one place that reads stack config: fills defaults, validates everything and returns the frozen,
// typed ClusterSpec (spec.ts). Components never read pulumi.Config. Every problem is collected and
// reported at once (ConfigError), each naming the full key, the bad value, what is allowed and the fix,
// because a user fixing a stack file one error per `pulumi up` is slow and a half-checked config fails
// 20 minutes later on a VM.
//
// One file per config block (nodes, ssh, kubernetes, mirrors, addons, virtualbox, aliyun), sharing the
// reader/validator toolkit in reader.ts; build.ts composes them, read.ts feeds it from pulumi.Config,
// stack-file.ts from Pulumi.<stack>.yaml, and keys.ts is the key table the docs are checked against.
export { ConfigError, PROJECT } from "./reader";
export type { RawConfig } from "./reader";
export { CONFIG_KEYS } from "./keys";
export type { ConfigKeyDoc } from "./keys";
export { MIRROR_PROFILES, rewriteImageHost } from "./mirrors";
export { checkOpenSshPublicKey, privateKeyProblem } from "./ssh";
export { buildClusterSpec, buildClusterSpecTraced } from "./build";
export type { BuildOptions } from "./build";
export { readClusterSpec, buildClusterSpecWithKey, rawStackConfig } from "./read";
export { ENCRYPTED_PLACEHOLDER, pulumiConfigMapFromStackFile, rawConfigFromStackFile, stackFileSecretKeys } from "./stack-file";
