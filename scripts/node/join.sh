#!/usr/bin/env bash
# kubeadm join on a worker (runbook 1.6 / seed 002 step 7), or on a further control plane (HA), re-runnable:
#   - the JoinConfiguration arrives on stdin (it carries the bootstrap token);
#   - a node that has joined (/etc/kubernetes/kubelet.conf) is left alone;
#   - leftovers of a half-done join are reset first (a failed create is retried by the next `up`).
# Header variables:
#   NODE_NAME
#   RESET_SCRIPT   scripts/node/reset.sh with its header
#   JOIN_TIMEOUT   seconds
#   CONTROL_PLANE  (control planes only) true: the JoinConfiguration has a controlPlane section; after the
#                  join the SSH user gets admin.conf as ~/.kube/config, as on the first control plane
#   SSH_USER UPLOAD_STEP  (control planes only) the SSH user; the step that uploads the certificates
#   LOCAL_API_SERVER      (control planes only) this node's own API server, https://<node IP>:6443
#   LOCAL_API_WAIT        (control planes only) seconds to wait for it when the join marker is missing
#   TOKEN_STEP     the step that makes sure the bootstrap token exists (named when it has to run again)
# The control-plane endpoint (host:port) is read from the JoinConfiguration (apiServerEndpoint).
# shellcheck source=lib/prelude.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/prelude.sh"
# shellcheck source=lib/user-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/user-kubeconfig.sh"

: "${NODE_NAME:?}" "${RESET_SCRIPT:?}" "${JOIN_TIMEOUT:?}" "${TOKEN_STEP:?}"
CONTROL_PLANE="${CONTROL_PLANE:-false}"
redact() { sed -E -e 's/[a-z0-9]{6}\.[a-z0-9]{16}/<bootstrap-token>/g' -e 's/\b[0-9a-f]{64}\b/<certificate-key>/g'; }

step "read join configuration from stdin"
umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
cat >"${WORK}/join.yaml"
[ -s "${WORK}/join.yaml" ] || fail "no JoinConfiguration on stdin"

step "check whether the node has joined"
# ca_hash: the discovery hash of the CA this node trusts now; empty when there is none or it cannot be
# read (then the node is left alone rather than reset on a guess).
ca_hash() {
  local der
  [ -f /etc/kubernetes/pki/ca.crt ] || return 0
  der="$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt 2>/dev/null | openssl pkey -pubin -outform der 2>/dev/null | base64 -w0)" || return 0
  [ -n "${der}" ] || return 0
  echo "sha256:$(base64 -d <<<"${der}" | sha256sum | cut -d' ' -f1)"
}
wanted_hash="$(grep -oE 'sha256:[0-9a-f]{64}' "${WORK}/join.yaml" | head -n1 || true)"
# Written once `kubeadm join` exited 0. A control plane's join writes kubelet.conf (kubelet-start) before
# its etcd member is added and promoted (control-plane-join: cmd/kubeadm/app/cmd/join.go phase order), so
# for a control plane kubelet.conf alone does not mean "joined".
JOIN_MARKER=/var/lib/kubeadm-cluster/join-complete
mark_joined() { install -d -m 755 "$(dirname "${JOIN_MARKER}")" && { [ -f "${JOIN_MARKER}" ] || date -u +%Y-%m-%dT%H:%M:%SZ >"${JOIN_MARKER}"; }; }

# reset_for_rejoin: everything a join needs undone before it runs again. kubeadm reset first: its
# remove-etcd-member phase needs this node's Node object (it reads the node registration from the
# cluster). The control-plane endpoint's services stay (KEEP_ENDPOINT: vip.sh does not run again before
# this join). Then, on a control plane, its Node is deleted with the admin.conf saved before the reset:
# kubeadm join's kubelet-start refuses a Node of the same name that is still Ready ("a Node with name ...
# and status Ready already exists in the cluster", cmd/kubeadm/app/cmd/phases/join/kubelet.go), and a
# stopped kubelet's Node stays Ready for the node-monitor grace period (40-50 s).
reset_for_rejoin() {
  local kc=""
  if [ "${CONTROL_PLANE}" = true ] && [ -f /etc/kubernetes/admin.conf ]; then
    kc="${WORK}/admin.conf"
    cp /etc/kubernetes/admin.conf "${kc}"
  fi
  KEEP_ENDPOINT=true bash -c "${RESET_SCRIPT}" >&2 || return 1
  if [ -n "${kc}" ]; then
    if timeout 60 kubectl --kubeconfig "${kc}" --request-timeout=20s delete node "${NODE_NAME}" --ignore-not-found >&2; then
      log "Node ${NODE_NAME} deleted from the cluster (re-registered by the join)"
    else
      warn "could not delete Node ${NODE_NAME} (the join may refuse a Ready Node of that name; it retries once)"
    fi
  fi
}

# ready URL SECONDS: GET URL/readyz answers 200 within SECONDS. Anonymous (curl -k): /readyz is public
# (system:public-info-viewer), so an expired admin.conf cannot make a working API server look dead. A
# stacked API server reads its local etcd member (--etcd-servers=https://127.0.0.1:2379), which serves
# only as a started voting member, so a node's own /readyz also says "my etcd member votes".
ready() {
  local deadline=$((SECONDS + $2))
  # The body too: a ready API server answers 200 "ok" (a proxy or another server on the port may not).
  # --noproxy: a proxy set in the environment (/etc/environment) must not answer for the node itself.
  until [ "$(timeout 15 curl -fsk --noproxy '*' --max-time 10 "$1/readyz" 2>/dev/null)" = ok ]; do
    [ "${SECONDS}" -lt "${deadline}" ] || return 1
    sleep 5
  done
}
ENDPOINT="$(sed -n 's/^ *apiServerEndpoint: *//p' "${WORK}/join.yaml" | tr -d '"' | head -n1)"

# mark_control_plane: what kubeadm's last join phase (control-plane-join/mark-control-plane) does, for a
# join that died before it: the control-plane label and taint. From 1.33 (ControlPlaneKubeletLocalMode)
# kubelet.conf appears only after the etcd member is promoted, so "kubelet.conf, no marker" there means
# the join died in wait-control-plane or mark-control-plane. --overwrite: a no-op when they are there.
mark_control_plane() {
  local kc=(--kubeconfig /etc/kubernetes/admin.conf --server "${LOCAL_API_SERVER}" --request-timeout=20s)
  if timeout 60 kubectl "${kc[@]}" label node "${NODE_NAME}" --overwrite node-role.kubernetes.io/control-plane= node.kubernetes.io/exclude-from-external-load-balancers= >&2 &&
    timeout 60 kubectl "${kc[@]}" taint node "${NODE_NAME}" --overwrite node-role.kubernetes.io/control-plane:NoSchedule >&2; then
    log "control-plane label and taint on Node ${NODE_NAME}"
  else
    warn "could not set the control-plane label and taint on Node ${NODE_NAME} (kubectl output above)"
  fi
}

if [ -f /etc/kubernetes/kubelet.conf ]; then
  current_hash="$(ca_hash)"
  if [ -n "${wanted_hash}" ] && [ -n "${current_hash}" ] && [ "${current_hash}" != "${wanted_hash}" ]; then
    # The control plane was rebuilt (new CA): this node still belongs to the old cluster.
    step "reset: joined to another cluster (CA ${current_hash}, expected ${wanted_hash})"
    reset_for_rejoin || fail "reset before re-joining the new cluster failed"
  elif [ "${CONTROL_PLANE}" != true ] || [ -f "${JOIN_MARKER}" ]; then
    log "/etc/kubernetes/kubelet.conf present: already joined, skipping"
    step "done"
    exit 0
  elif [ -f /etc/kubernetes/manifests/etcd.yaml ] && ready "${LOCAL_API_SERVER:?}" "${LOCAL_API_WAIT:?}"; then
    # No marker, yet a working control plane: joined by a join.sh older than the marker, or a join that
    # died in its last phase. Never reset a member that works.
    log "no join marker, but ${LOCAL_API_SERVER} answers /readyz (its etcd member votes): joined"
    mark_control_plane
    mark_joined
    step "done"
    exit 0
  elif [ -f /etc/kubernetes/manifests/etcd.yaml ] && ! ready "https://${ENDPOINT:?}" 30; then
    # Neither this node nor the cluster answers (quorum lost, machines just booted): nothing tells a
    # half-done join from a member that is down with the rest, so nothing is reset.
    fail "cannot tell whether ${NODE_NAME}'s control-plane join finished: kubelet.conf is there but no join marker, and neither ${LOCAL_API_SERVER} nor the endpoint https://${ENDPOINT} answers /readyz. Nothing was changed; run pulumi up again once the cluster answers"
  else
    # No etcd manifest (the join died before its member was added), or the cluster answers and this
    # node does not (its member was never promoted): a half-done join.
    step "reset the half-done control-plane join (kubelet.conf, no join marker, and no etcd manifest or no answer from ${LOCAL_API_SERVER} while the endpoint answers)"
    reset_for_rejoin || fail "reset before retrying the control-plane join failed"
  fi
elif [ -f /etc/kubernetes/bootstrap-kubelet.conf ] || [ -f /etc/kubernetes/pki/ca.crt ] || [ -f /var/lib/kubelet/config.yaml ]; then
  step "reset the half-done join"
  reset_for_rejoin || fail "reset before retrying the join failed"
fi

if [ "${CONTROL_PLANE}" = true ]; then
  # A reset run by Pulumi (the node's reset step replaced, e.g. for a new cluster) stopped and disabled
  # the endpoint's services, and vip.sh does not run again before this join: start vip.sh's own again.
  for unit in keepalived haproxy; do
    conf=/etc/keepalived/keepalived.conf
    [ "${unit}" = haproxy ] && conf=/etc/haproxy/haproxy.cfg
    if [ ! -f "${conf}" ] || [ "$(head -n1 "${conf}")" != '# managed by kubeadm-cluster (scripts/node/vip.sh)' ]; then continue; fi
    if systemctl is-active --quiet "${unit}" && systemctl is-enabled --quiet "${unit}"; then continue; fi
    if systemctl enable --now "${unit}" >&2; then
      log "${unit}: enabled and started again (the control-plane endpoint)"
    else
      warn "could not start ${unit}"
    fi
  done
fi

# token_unsigned: the endpoint serves the cluster-info ConfigMap and it carries no signature for this
# join's token. Asked only after kubeadm join failed: the token's step ran before this join was first
# tried, and a join retried by a later `up` (its first attempt failed) does not run it again, so after
# the token's TTL the token is gone and kubeadm only says, after its discovery timeout, that it found no
# JWS signature. cluster-info is public (kubeadm's bootstrap-signer-clusterinfo Role binds
# system:anonymous, phases/bootstraptoken/clusterinfo); the controller-manager's BootstrapSigner adds
# jws-kubeconfig-<token id> for every valid signing token (pkg/controller/bootstrap). Not asked before
# the join: right after init the controller-manager may not have signed yet, and kubeadm's discovery
# waits for that (5 min); a check of its own would fail joins that work. Anything but the ConfigMap
# (no answer, a proxy, a health page, an error Status) proves nothing: not unsigned.
token_id="$(grep -oE '\b[a-z0-9]{6}\.[a-z0-9]{16}\b' "${WORK}/join.yaml" | head -n1 || true)"
token_id="${token_id%%.*}"
[ -n "${token_id}" ] || fail "the JoinConfiguration on stdin has no bootstrap token"
token_unsigned() {
  local info
  info="$(timeout 15 curl -fsk --noproxy '*' --max-time 10 "https://${ENDPOINT:?}/api/v1/namespaces/kube-public/configmaps/cluster-info" 2>/dev/null)" || return 1
  grep -qE '"kind": ?"ConfigMap"' <<<"${info}" && grep -qE '"name": ?"cluster-info"' <<<"${info}" || return 1
  ! grep -qF "\"jws-kubeconfig-${token_id}\"" <<<"${info}"
}
if [ "${CONTROL_PLANE}" = true ]; then
  # Its certificates were uploaded two hours before they are deleted: a retry after the token's TTL
  # needs both steps again.
  token_fix="replace both steps that ran before it: pulumi up --replace <URN of ${TOKEN_STEP}> --replace <URN of ${UPLOAD_STEP:-the upload-certs step}>"
else
  token_fix="replace that step: pulumi up --replace <URN of ${TOKEN_STEP}>"
fi

step "kubeadm join"
attempt=1
until timeout "${JOIN_TIMEOUT}" kubeadm join --config "${WORK}/join.yaml" 2>&1 | redact | tee "${WORK}/join.log" >&2; do
  if token_unsigned; then
    fail "kubeadm join failed and the bootstrap token ${token_id} is not signed in the cluster's cluster-info: it expired or was deleted since ${TOKEN_STEP} ran (a join retried by a later pulumi up after the token's TTL), or the controller-manager is not running. Check kubectl -n kube-system get pods; if it runs, create the token again: ${token_fix} (URNs: pulumi stack --show-urns); this join runs after it"
  fi
  # The uploaded control-plane certificates are gone: kubeadm deletes the kubeadm-certs Secret two hours
  # after an upload (it is owned by a bootstrap token with DefaultCertTokenDuration = 2 h, copycerts.go),
  # and then says 'Secret "kubeadm-certs" was not found ... This Secret might have expired'; a key that
  # does not decrypt it gives "error decoding secret data with provided key". Retrying cannot help.
  if [ "${CONTROL_PLANE}" = true ] && grep -qE 'Secret "kubeadm-certs" was not found|error decoding secret data with provided key' "${WORK}/join.log"; then
    fail "the control-plane certificates uploaded by ${UPLOAD_STEP:-the upload-certs step} have expired (kubeadm deletes them two hours after an upload) or were uploaded with another key: upload them again by replacing that step in a full update, pulumi up --replace <its URN> (pulumi stack --show-urns); this join runs again after it"
  fi
  # The API may still be settling right after init; one reset-and-retry covers that.
  if [ "${attempt}" -ge 2 ]; then
    # The uploaded certificates live two hours (kubeadm deletes the kubeadm-certs Secret after that).
    [ "${CONTROL_PLANE}" = true ] && fail "kubeadm join --control-plane failed twice (output above); if it says the kubeadm-certs Secret is missing or cannot be decrypted, the certificates uploaded by ${UPLOAD_STEP:-the upload-certs step} expired (2 h): run pulumi up --replace <its URN> (pulumi stack --show-urns)"
    fail "kubeadm join failed twice (output above); check the control plane and port 6443"
  fi
  log "kubeadm join failed; resetting and retrying once in 20s"
  reset_for_rejoin || true
  sleep 20
  attempt=$((attempt + 1))
done
mark_joined

if [ "${CONTROL_PLANE}" = true ]; then
  step "kubectl config for ${SSH_USER:?}"
  user_kubeconfig ""
fi
step "done"
