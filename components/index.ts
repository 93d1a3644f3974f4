// The library: `import { KubeadmCluster } from "kubeadm-pulumi"`. The cluster component and its typed
// args are the main entry; the inner components, their narrow args and the pure builders are exported
// for programs that compose their own graph (and for tests).
export { KubeadmCluster, NodeSummary, clusterSpecOf } from "./cluster/kubeadm-cluster";
export * from "./cluster/args";
export { readClusterArgs } from "./cluster/read-args";
export { buildClusterSpec, ConfigError, CONFIG_KEYS } from "./config";
export * from "./spec";
export { Host, SshConnection } from "./machines/host";
export { VirtualBoxMachines, AliyunMachines, existingHosts, provisionMachines } from "./machines";
export { NodePrep, NodePrepArgs } from "./node/node-prep";
export { ControlPlane, ControlPlaneArgs, ControlPlaneSettings } from "./node/control-plane";
export { Worker, WorkerArgs, WorkerSettings, JoinInputs } from "./node/worker";
export { Flannel, FlannelArgs } from "./addons/flannel";
export { MetricsServer, MetricsServerArgs } from "./addons/metrics-server";
export { DemoApp, DemoAppArgs } from "./addons/demo-app";
export { KubeletCsrApprover, KubeletCsrApproverArgs } from "./addons/csr-approver";
