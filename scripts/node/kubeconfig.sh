#!/usr/bin/env bash
# Prints the cluster-admin kubeconfig. Its stdout is a secret: the Pulumi command that runs this has
# logging "none" and stdout in additionalSecretOutputs.
set -euo pipefail

ADMIN=/etc/kubernetes/admin.conf
[ -f "${ADMIN}" ] || { echo "FAILED [kubeconfig]: ${ADMIN} not found (has kubeadm init run?)" >&2; exit 1; }
cat "${ADMIN}"
