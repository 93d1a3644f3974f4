#!/usr/bin/env bash
# On the first control plane, right before another control plane joins (HA): upload the control-plane
# certificates to the kubeadm-certs Secret, encrypted with the cluster's certificate key, so the joining
# node can fetch them. kubeadm deletes the Secret and the key two hours after an upload ("As a
# safeguard, uploaded-certs will be deleted in two hours", kubeadm high-availability docs), so each
# control-plane join gets a fresh upload: one added weeks later still joins.
#   kubeadm init phase upload-certs --upload-certs --config <file>
# The config arrives on stdin: InitConfiguration.certificateKey (the phase uses that key and generates
# one only when it is empty: cmd/kubeadm/app/cmd/phases/init/uploadcerts.go) and the ClusterConfiguration
# with kubernetesVersion. The key never reaches argv or the output. Safe to run again: every upload
# replaces the Secret.
# Header variables:
#   VERSION_PLACEHOLDER  replaced by the installed kubeadm version (minor-only configs)
#   UPLOAD_TIMEOUT       seconds
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"

: "${VERSION_PLACEHOLDER:?}" "${UPLOAD_TIMEOUT:?}"
redact() { sed -E 's/\b[0-9a-f]{64}\b/<certificate-key>/g'; }

step "read the upload-certs configuration from stdin"
umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
cat >"${WORK}/upload.yaml"
[ -s "${WORK}/upload.yaml" ] || fail "no configuration on stdin"
grep -q '^certificateKey: ' "${WORK}/upload.yaml" || fail "the configuration on stdin has no certificateKey"
if grep -qF "${VERSION_PLACEHOLDER}" "${WORK}/upload.yaml"; then
  v="$(kubeadm version -o short)" || fail "cannot read the installed kubeadm version"
  sed -i "s/${VERSION_PLACEHOLDER}/${v}/g" "${WORK}/upload.yaml"
fi

step "check"
[ -f /etc/kubernetes/admin.conf ] || fail "no /etc/kubernetes/admin.conf: this is not an initialised control plane"
[ -f /etc/kubernetes/pki/ca.key ] || fail "no /etc/kubernetes/pki/ca.key: the certificates to upload are not here"

step "kubeadm init phase upload-certs"
if ! timeout "${UPLOAD_TIMEOUT}" kubeadm init phase upload-certs --upload-certs --config "${WORK}/upload.yaml" 2>&1 | redact >&2; then
  fail "kubeadm init phase upload-certs failed (output above)"
fi
echo "control-plane certificates uploaded to kube-system/kubeadm-certs (valid for 2 hours)"
step "done"
