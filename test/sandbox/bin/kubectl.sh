#!/bin/bash
# sandbox stand-in for kubectl v@VERSION@
@RECORD@
API=/srv/api
err() { echo "error: $*" >&2; exit 1; }
# Global flags and the ones the node scripts pass; what is left are the verb and its arguments.
kc="" server="" ns=default all=false out="" fsel="" lsel="" force=false ignore_ds=false ignore_nf=false overwrite=false patch="" ptype="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig) kc="$2"; shift ;;
    --kubeconfig=*) kc="${1#*=}" ;;
    --server|-s) server="$2"; shift ;;
    --server=*) server="${1#*=}" ;;
    --request-timeout=*|--timeout=*|--delete-emptydir-data|--wait=*) ;;
    --request-timeout|--timeout) shift ;;
    -n|--namespace) ns="$2"; shift ;;
    --namespace=*) ns="${1#*=}" ;;
    -A|--all-namespaces) all=true ;;
    -o|--output) out="$2"; shift ;;
    -o=*|--output=*) out="${1#*=}" ;;
    --field-selector) fsel="$2"; shift ;;
    --field-selector=*) fsel="${1#*=}" ;;
    -l|--selector) lsel="$2"; shift ;;
    -l=*|--selector=*) lsel="${1#*=}" ;;
    --force|--force=true) force=true ;;
    --ignore-daemonsets|--ignore-daemonsets=true) ignore_ds=true ;;
    --ignore-not-found|--ignore-not-found=true) ignore_nf=true ;;
    --overwrite) overwrite=true ;;
    -p|--patch) patch="$2"; shift ;;
    --type) ptype="$2"; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -n "$kc" ] && [ ! -f "$kc" ]; then err "stat $kc: no such file or directory"; fi
set -- "${args[@]}"
case "${1:-}" in version) echo "Client Version: v@VERSION@"; exit 0 ;; esac
# hours_left RFC3339: whole hours until then, as the token table keeps TTLs ("23h").
hours_left() { echo "$(( ($(date -u -d "$1" +%s) - $(date +%s)) / 3600 ))h"; }
# create -f - of a bootstrap token Secret: goes into the kubeadm stand-in's token table (/sandbox-log/tokens,
# "id.secret ttl" per line), as the real API server's Secret is what `kubeadm token list` reads. Like the
# API server, a Secret whose name exists is refused. The manifest is kept for tests (secrets/<name>.yaml).
if [ "${1:-} ${2:-} ${3:-}" = "create -f -" ]; then
  m="$(cat)"
  grep -qx 'type: bootstrap.kubernetes.io/token' <<<"$m" || err "sandbox stand-in kubectl: create -f - takes only a bootstrap token Secret"
  sval() { sed -n "s/^  $1: \"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" <<<"$m"; }
  name="$(sed -n 's/^  name: //p' <<<"$m")" id="$(sval token-id)" sec="$(sval token-secret)" exp="$(sval expiration)"
  [ "$name" = "bootstrap-token-$id" ] || err "sandbox stand-in kubectl: Secret name $name does not match token-id $id"
  db=/sandbox-log/tokens; mkdir -p /sandbox-log/secrets; touch "$db"
  if grep -q "^$id\." "$db"; then echo "Error from server (AlreadyExists): error when creating \"STDIN\": secrets \"$name\" already exists" >&2; exit 1; fi
  ttl="<forever>"; [ -n "$exp" ] && ttl="$(hours_left "$exp")"
  echo "$id.$sec $ttl" >> "$db"; printf '%s\n' "$m" > "/sandbox-log/secrets/$name.yaml"
  echo "secret/$name created"; exit 0
fi
# patch secret bootstrap-token-<id> --type merge with a new expiration (stringData): the TTL in the table.
if [ "${1:-} ${2:-}" = "patch secret" ]; then
  id="${3#bootstrap-token-}" db=/sandbox-log/tokens
  { [ "$ns" = kube-system ] && [ "$ptype" = merge ] && [ "$id" != "${3:-}" ]; } || err "sandbox stand-in kubectl: patch takes only a bootstrap token Secret in kube-system, --type merge"
  grep -q "^$id\." "$db" 2>/dev/null || err "secrets \"${3}\" not found"
  exp="$(sed -n 's/^{"stringData":{"expiration":"\([^"]*\)"}}$/\1/p' <<<"$patch")"
  [ -n "$exp" ] || err "sandbox stand-in kubectl: unsupported patch $patch"
  ttl="$(hours_left "$exp")"
  sed -i "s/^\($id\.[a-z0-9]*\) .*/\1 $ttl/" "$db"
  echo "secret/${3} patched"; exit 0
fi
# Without the shared API state (other sandbox files) "the API answers" and nothing more.
[ -f "$API/.sandbox-api" ] || exit 0

# --- objects: nodes/<name>/{kubeletVersion,ready,unschedulable,annotations/<key with / as %>,labels/<key with / as %>}, pods/<ns>/<name>
# (lines node=, owner=, mirror=), kubeadm-config/ClusterConfiguration.
field() { # field KIND ID EXPR: one jsonpath field of one object (the expressions the node scripts use)
  local d v
  case "$1:$3" in
    node:.metadata.name|pod:.metadata.name) echo -n "${2##*/}" ;;
    pod:.metadata.namespace) echo -n "${2%%/*}" ;;
    node:.status.nodeInfo.kubeletVersion) tr -d '\n' 2>/dev/null <"$API/nodes/$2/kubeletVersion" || true ;;
    node:.spec.unschedulable) [ -f "$API/nodes/$2/unschedulable" ] && echo -n true ;;
    node:.spec.taints\[\*\].key) ;;
    'node:.status.conditions[?(@.type=="Ready")].status') tr -d '\n' 2>/dev/null <"$API/nodes/$2/ready" || true ;;
    node:.metadata.annotations.*)
      v="${3#.metadata.annotations.}"; v="${v//\\./.}"; d="$API/nodes/$2/annotations/${v//\//%}"
      [ -f "$d" ] && tr -d '\n' < "$d" ;;
    pod:.metadata.ownerReferences\[\*\].kind) sed -n 's/^owner=//p' "$API/pods/$2" | tr -d '\n' ;;
    pod:.metadata.annotations.kubernetes\\.io/config\\.mirror) sed -n 's/^mirror=//p' "$API/pods/$2" | tr -d '\n' ;;
    pod:.spec.nodeName) sed -n 's/^node=//p' "$API/pods/$2" | tr -d '\n' ;;
    cm:.data.ClusterConfiguration) cat "$API/kubeadm-config/ClusterConfiguration" ;;
    *) err "sandbox stand-in kubectl: unsupported jsonpath expression {$3} for a $1" ;;
  esac
  return 0
}
render() { # render KIND ID TEMPLATE: the template with {expr} and {"literal"} filled in for one object
  local t="$3" e lit
  while [ -n "$t" ]; do
    if [ "${t:0:1}" = "{" ]; then
      e="${t#\{}"; e="${e%%\}*}"; t="${t#*\}}"
      case "$e" in
        \"*\") e="${e#\"}"; e="${e%\"}"; printf '%b' "$e" ;;
        *) field "$1" "$2" "$e" || exit 1 ;;
      esac
    else
      lit="${t%%\{*}"; printf '%s' "$lit"; t="${t:${#lit}}"
    fi
  done
}
jsonpath() { # jsonpath KIND TEMPLATE ID...: {range .items[*]}...{end} over the IDs, or the template for one
  local kind="$1" t="$2" id; shift 2
  case "$t" in
    "{range .items[*]}"*"{end}") t="${t:17}"; t="${t%\{end\}}"; for id in "$@"; do render "$kind" "$id" "$t"; done ;;
    *) for id in "$@"; do render "$kind" "$id" "$t"; done ;;
  esac
}
node_exists() { [ -d "$API/nodes/$1" ]; }
need_node() { node_exists "$1" || err "nodes \"$1\" not found"; }
# node_kv annotations|labels NODE KV...: kubectl annotate/label on a node: key=value sets (an existing key
# only with --overwrite), key- removes.
node_kv() {
  local kind="$1" node="$2" kv k f
  shift 2
  need_node "$node"; mkdir -p "$API/nodes/$node/$kind"
  for kv in "$@"; do
    case "$kv" in
      *=*) k="${kv%%=*}"; f="$API/nodes/$node/$kind/${k//\//%}"
           if [ -f "$f" ] && ! $overwrite; then err "--overwrite is false but found the following declared ${kind%s}(s): '$k' already has a value ($(cat "$f"))"; fi
           printf '%s\n' "${kv#*=}" > "$f" ;;
      *-) k="${kv%-}"; rm -f "$API/nodes/$node/$kind/${k//\//%}" ;;
      *) err "invalid ${kind%s} format: $kv" ;;
    esac
  done
}
pods_on() { # pods_on NODE: ns/name of every pod bound to NODE
  local f; for f in "$API"/pods/*/*; do [ -f "$f" ] || continue; grep -qx "node=$1" "$f" && echo "${f#"$API"/pods/}"; done; return 0
}

case "${1:-} ${2:-}" in
  "get --raw")
    # A node's own API server (--server) with a stacked etcd member that is not a voting member (a join
    # that died before its member was added or promoted) is not ready: its etcd check fails.
    if [ -n "$server" ] && [ "${3:-}" = /readyz ] && [ -f /etc/kubernetes/manifests/etcd.yaml ] && [ -d "$API/etcd/members" ] && [ ! -f "$API/etcd/members/$(hostname)" ]; then
      err "the server is currently unable to handle the request (get --raw /readyz): [-]etcd failed: reason withheld"
    fi
    case "${3:-}" in /readyz|/livez|/healthz) echo ok ;; *) err "sandbox stand-in kubectl: unsupported raw path ${3:-}" ;; esac ;;
  "get node"|"get nodes")
    if [ -n "${3:-}" ]; then
      if ! node_exists "$3"; then $ignore_nf && exit 0; err "nodes \"$3\" not found"; fi
      ids=("$3")
    else
      ids=(); for d in "$API"/nodes/*/; do [ -d "$d" ] && ids+=("$(basename "$d")"); done
      # -l KEY: nodes that have the label (existence selector, the only form the node scripts use).
      if [ -n "$lsel" ]; then
        case "$lsel" in *=*|*,*|'!'*) err "sandbox stand-in kubectl: unsupported label selector $lsel" ;; esac
        sel=(); for i in "${ids[@]}"; do [ -f "$API/nodes/$i/labels/${lsel//\//%}" ] && sel+=("$i"); done; ids=("${sel[@]}")
      fi
    fi
    case "$out" in
      jsonpath=*) jsonpath node "${out#jsonpath=}" "${ids[@]}" ;;
      *) for i in "${ids[@]}"; do echo "$i $(field node "$i" .status.nodeInfo.kubeletVersion)"; done ;;
    esac ;;
  "get pods"|"get pod")
    node=""; case "$fsel" in spec.nodeName=*) node="${fsel#*=}" ;; "") ;; *) err "sandbox stand-in kubectl: unsupported field selector $fsel" ;; esac
    ids=(); for f in "$API"/pods/*/*; do [ -f "$f" ] || continue; id="${f#"$API"/pods/}"
      { $all || [ "${id%%/*}" = "$ns" ]; } || continue
      [ -z "$node" ] || grep -qx "node=$node" "$f" || continue
      ids+=("$id"); done
    case "$out" in jsonpath=*) jsonpath pod "${out#jsonpath=}" "${ids[@]}" ;; *) printf '%s\n' "${ids[@]}" ;; esac ;;
  "get cm"|"get configmap")
    if ! { [ "${3:-}" = kubeadm-config ] && [ "$ns" = kube-system ] && [ -f "$API/kubeadm-config/ClusterConfiguration" ]; }; then err "configmaps \"${3:-}\" not found"; fi
    case "$out" in jsonpath=*) jsonpath cm "${out#jsonpath=}" kubeadm-config ;; *) cat "$API/kubeadm-config/ClusterConfiguration" ;; esac ;;
  "cordon "*)
    need_node "$2"
    if [ -f "$API/nodes/$2/unschedulable" ]; then echo "node/$2 already cordoned"; else : > "$API/nodes/$2/unschedulable"; echo "node/$2 cordoned"; fi ;;
  "uncordon "*)
    need_node "$2"
    if [ -f "$API/nodes/$2/unschedulable" ]; then rm -f "$API/nodes/$2/unschedulable"; echo "node/$2 uncordoned"; else echo "node/$2 already uncordoned"; fi
    # The scheduler places Pending pods (evicted from a drained node with nowhere else to go) here.
    for f in "$API"/pods/*/*; do [ -f "$f" ] || continue; if grep -qx "node=" "$f"; then sed -i "s/^node=\$/node=$2/" "$f"; fi; done ;;
  "annotate node") node_kv annotations "$3" "${@:4}"; echo "node/$3 annotated" ;;
  "drain "*)
    # kubectl drain: cordon, then evict every pod but mirror pods; DaemonSet pods need
    # --ignore-daemonsets, bare pods (no controller) --force (k8s.io/kubectl/pkg/drain/filters.go).
    need_node "$2"
    bare=(); ds=(); evict=()
    while read -r id; do
      [ -n "$id" ] || continue
      owner="$(sed -n 's/^owner=//p' "$API/pods/$id")"; mirror="$(sed -n 's/^mirror=//p' "$API/pods/$id")"
      if [ -n "$mirror" ]; then continue; fi
      case "$owner" in DaemonSet) ds+=("$id") ;; "") bare+=("$id") ;; *) evict+=("$id") ;; esac
    done < <(pods_on "$2")
    if [ "${#ds[@]}" -gt 0 ] && ! $ignore_ds; then err "unable to drain node \"$2\" due to error: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${ds[*]}"; fi
    if [ "${#bare[@]}" -gt 0 ] && ! $force; then err "unable to drain node \"$2\" due to error: cannot delete Pods that declare no controller (use --force to override): ${bare[*]}"; fi
    if [ -f "$API/nodes/$2/unschedulable" ]; then echo "node/$2 already cordoned"; else : > "$API/nodes/$2/unschedulable"; echo "node/$2 cordoned"; fi
    warn=""; [ "${#ds[@]}" -eq 0 ] || warn="ignoring DaemonSet-managed Pods: ${ds[*]}"
    [ "${#bare[@]}" -eq 0 ] || warn="${warn:+$warn; }deleting Pods that declare no controller: ${bare[*]}"
    [ -z "$warn" ] || echo "Warning: $warn" >&2
    for id in "${bare[@]}"; do rm -f "$API/pods/$id"; echo "pod/${id#*/} deleted"; done
    for id in "${evict[@]}"; do
      # The owner re-creates it on another schedulable node, else it stays Pending (node=).
      to=""; for d in "$API"/nodes/*/; do n="$(basename "$d")"; [ "$n" != "$2" ] && [ ! -f "$d/unschedulable" ] && { to="$n"; break; }; done
      sed -i "s/^node=.*/node=$to/" "$API/pods/$id"; echo "pod/${id#*/} evicted"
    done
    echo "node/$2 drained" ;;
  "label node") node_kv labels "$3" "${@:4}"; echo "node/$3 labeled" ;;
  "taint node") echo "node/$3 tainted" ;;
  "delete node")
    if node_exists "$3"; then rm -rf "${API:?}/nodes/$3"; echo "node \"$3\" deleted"; elif $ignore_nf; then :; else err "nodes \"$3\" not found"; fi ;;
  *) err "sandbox stand-in kubectl: unsupported command: $*" ;;
esac
exit 0
