#!/usr/bin/env bash
# Prints the cluster-admin kubeconfig. Its stdout is a secret: the Pulumi command that runs this has
# logging "none" and stdout in additionalSecretOutputs.
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

ADMIN=/etc/kubernetes/admin.conf
[ -f "${ADMIN}" ] || { echo "FAILED [kubeconfig]: ${ADMIN} not found (has kubeadm init run?)" >&2; exit 1; }
cat "${ADMIN}"
