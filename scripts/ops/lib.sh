# shellcheck shell=bash
# Variables set here are read by the scripts that source this file.
# shellcheck disable=SC2034
# Shared by every scripts/ops/* tool: where the cluster is (stack outputs, flags, env), prerequisite
# checks, bounded and retried ssh/scp/kubectl, and one EXIT trap that runs registered cleanups even
# after Ctrl-C, SIGTERM or a failed step. Source it; do not run it.

if ((BASH_VERSINFO[0] < 4)); then
  echo "$(basename "$0"): needs bash 4 or newer (this is $BASH_VERSION; macOS: brew install bash)" >&2
  exit 2
fi

OPS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OPS_PROJECT_DIR=${OPS_PROJECT_DIR:-$(cd "$OPS_DIR/../.." && pwd)}
OPS_PROG=$(basename "$0")
OPS_STEP="start"
OPS_TMP=""
OPS_ERR_REPORTED=""
OPS_CLEANUP=()
OPS_MISSING=()

# Targets: filled from flags first, then env, then the Pulumi stack (see ops_resolve).
# Env values are captured before the internal variables below reuse some of the names.
OPS_ENV_SSH_KEY=${OPS_SSH_KEY:-}
OPS_ENV_SSH_USER=${OPS_SSH_USER:-}
OPS_ENV_SSH_PORT=${OPS_SSH_PORT:-}
OPS_FLAG_KUBECONFIG=""
OPS_FLAG_USER=""
OPS_FLAG_KEY=""
OPS_FLAG_PORT=""
OPS_FLAG_STACK=""
OPS_NO_STACK=""
OPS_FLAG_NODES=()
OPS_FLAG_NODE_IPS=()
OPS_KUBECONFIG=""
OPS_SSH_KEY=""
OPS_NODE_NAMES=()
declare -A OPS_NODE_ROLE=() OPS_NODE_IP=() OPS_NODE_HOST=() OPS_NODE_USER=() OPS_NODE_PORT=()
OPS_STACK_LOADED=""
OPS_STACK_JSON=""

# shellcheck disable=SC2016 # backticks are literal text in the help
OPS_COMMON_HELP='Cluster target (flags win over env, env over the Pulumi stack):
  --kubeconfig FILE     kubeconfig (env KUBECONFIG; else `pulumi stack output kubeconfig`)
  --node NAME=HOST      SSH address of a node, repeatable (env OPS_NODES="n1=h1 n2=h2";
                        else the stack output `nodes`)
  --node-ip NAME=IP     the node IP Kubernetes should use, repeatable (else the stack output)
  --user USER           SSH user (env OPS_SSH_USER; else the stack, else ssh defaults)
  --key FILE            SSH private key (env OPS_SSH_KEY; else the stack output sshPrivateKey)
  --ssh-port N          SSH port (env OPS_SSH_PORT; default 22)
  --stack NAME          Pulumi stack to read (default: the selected stack); env OPS_PROJECT_DIR
                        is the Pulumi project directory (default: this repository)
  --no-stack            never call pulumi
  Extra ssh/scp options: env OPS_SSH_OPTS (word-split), e.g. "-o ProxyJump=bastion".'

ops_log() { printf '%s: %s\n' "$OPS_PROG" "$*" >&2; }
# Usage/prerequisite problems exit 2; failed operations exit 1.
ops_die() { printf '%s: error: %s\n' "$OPS_PROG" "$*" >&2; exit "${2:-1}"; }
ops_usage_error() { printf '%s: %s (see --help)\n' "$OPS_PROG" "$*" >&2; exit 2; }
ops_step() { OPS_STEP=$1; }

ops_init() {
  umask 077
  OPS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ops-${OPS_PROG}.XXXXXX")
  trap ops__on_exit EXIT
  trap 'ops__on_signal INT 130' INT
  trap 'ops__on_signal TERM 143' TERM
  trap 'ops__on_err $? "$BASH_COMMAND"' ERR
}

ops__on_signal() {
  ops_log "caught SIG$1 during step \"$OPS_STEP\"; cleaning up"
  OPS_ERR_REPORTED=1
  exit "$2"
}

ops__on_err() {
  [[ -n $OPS_ERR_REPORTED ]] && return 0
  OPS_ERR_REPORTED=1
  printf '%s: step "%s" failed (exit %s): %s\n' "$OPS_PROG" "$OPS_STEP" "$1" "$2" >&2
}

# Registers a cleanup command (run last-in first-out on exit, whatever the reason).
ops_defer() { OPS_CLEANUP+=("$(printf '%q ' "$@")"); }

ops__on_exit() {
  local rc=$? i
  # A second Ctrl-C must not cut the cleanup short (tracers left attached, load pods left running).
  trap '' INT TERM
  trap - ERR
  set +e
  for ((i = ${#OPS_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${OPS_CLEANUP[i]}" || ops_log "cleanup failed: ${OPS_CLEANUP[i]}"
  done
  [[ -n $OPS_TMP ]] && rm -rf "$OPS_TMP"
  exit "$rc"
}

# ops_need CMD HINT: remember a missing local command; ops_check_needs reports all of them at once.
ops_need() { command -v "$1" >/dev/null 2>&1 || OPS_MISSING+=("$1 ($2)"); }
ops_check_needs() {
  # Every remote step and kubectl call is bounded by timeout (GNU coreutils).
  ops_need timeout "GNU coreutils; macOS: brew install coreutils and put its gnubin directory on PATH"
  ((${#OPS_MISSING[@]} == 0)) && return 0
  local m
  printf '%s: missing prerequisite:\n' "$OPS_PROG" >&2
  for m in "${OPS_MISSING[@]}"; do printf '  %s\n' "$m" >&2; done
  exit 2
}
OPS_HINT_KUBECTL="install kubectl: https://kubernetes.io/docs/tasks/tools/ (same minor as the cluster)"
OPS_HINT_SSH="install an OpenSSH client: apt-get install openssh-client / brew install openssh"
OPS_HINT_NODE="Node.js reads the stack outputs; it is already needed by this Pulumi program"

# Splits --flag=value into --flag value so the parsers handle one form. Result in OPS_ARGS.
ops_split_args() {
  OPS_ARGS=()
  local a
  for a in "$@"; do
    if [[ $a == --*=* ]]; then OPS_ARGS+=("${a%%=*}" "${a#*=}"); else OPS_ARGS+=("$a"); fi
  done
}

# ops_common_flag "$@": consumes one target flag; sets OPS_SHIFT to the words used (0 = not ours).
ops_common_flag() {
  OPS_SHIFT=0
  case $1 in
    --kubeconfig | --node | --node-ip | --user | --key | --ssh-port | --stack)
      [[ $# -ge 2 && -n $2 ]] || ops_usage_error "$1 needs a value"
      case $1 in
        --kubeconfig) OPS_FLAG_KUBECONFIG=$2 ;;
        --node) [[ $2 == ?*=?* ]] || ops_usage_error "--node wants NAME=HOST, got '$2'"; OPS_FLAG_NODES+=("$2") ;;
        --node-ip) [[ $2 == ?*=?* ]] || ops_usage_error "--node-ip wants NAME=IP, got '$2'"; OPS_FLAG_NODE_IPS+=("$2") ;;
        --user) OPS_FLAG_USER=$2 ;;
        --key) OPS_FLAG_KEY=$2 ;;
        --ssh-port) [[ $2 =~ ^[0-9]+$ ]] || ops_usage_error "--ssh-port wants a number"; OPS_FLAG_PORT=$2 ;;
        --stack) OPS_FLAG_STACK=$2 ;;
      esac
      OPS_SHIFT=2 ;;
    --no-stack) OPS_NO_STACK=1; OPS_SHIFT=1 ;;
  esac
}

ops__pulumi() {
  local args=(-C "$OPS_PROJECT_DIR" --non-interactive stack output)
  [[ -n $OPS_FLAG_STACK ]] && args+=(--stack "$OPS_FLAG_STACK")
  timeout 120 pulumi "${args[@]}" "$@"
}

# Reads `pulumi stack output --json` once. Returns 1 (with a note) when there is no usable stack.
ops__load_stack() {
  [[ -n $OPS_STACK_LOADED ]] && { [[ -n $OPS_STACK_JSON ]]; return; }
  OPS_STACK_LOADED=1
  [[ -n $OPS_NO_STACK ]] && return 1
  if ! command -v pulumi >/dev/null 2>&1; then
    ops_log "pulumi CLI not on PATH: using flags/env only"
    return 1
  fi
  command -v node >/dev/null 2>&1 || ops_die "reading the stack needs node ($OPS_HINT_NODE), or pass --no-stack and flags" 2
  local out
  if ! out=$(ops__pulumi --json 2>"$OPS_TMP/pulumi.err"); then
    ops_log "pulumi stack output failed: $(head -c 400 "$OPS_TMP/pulumi.err")"
    return 1
  fi
  OPS_STACK_JSON=$out
}

# Prints one "|"-separated line per stack node: name|role|ip|sshHost|sshUser|sshPort ("|", not a
# tab: read would merge empty tab-separated fields).
ops__stack_nodes() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const o = JSON.parse(s);
      for (const n of Array.isArray(o.nodes) ? o.nodes : [])
        console.log([n.name, n.role || "", n.ip || "", n.sshHost || n.ip || "", n.sshUser || "", n.sshPort || ""].join("|"));
    });' <<<"$OPS_STACK_JSON"
}

ops__stack_has() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      process.exit(Object.prototype.hasOwnProperty.call(JSON.parse(s), process.argv[1]) ? 0 : 1);
    });' "$1" <<<"$OPS_STACK_JSON"
}

ops__add_node() { # name host
  local n=$1
  [[ -n ${OPS_NODE_HOST[$n]+x} ]] || OPS_NODE_NAMES+=("$n")
  OPS_NODE_HOST[$n]=$2
}

# ops_resolve [kube] [ssh]: fills OPS_KUBECONFIG and the node table for what the script needs.
ops_resolve() {
  local need_kube="" need_ssh="" w spec name host ip role user port
  for w in "$@"; do case $w in kube) need_kube=1 ;; ssh) need_ssh=1 ;; esac; done
  ops_step "resolve cluster target"

  # Nodes: flags, else env, else stack. Stack roles/IPs are merged in whenever the stack is read.
  local specs=("${OPS_FLAG_NODES[@]}")
  if ((${#specs[@]} == 0)) && [[ -n ${OPS_NODES:-} ]]; then read -r -a specs <<<"$OPS_NODES"; fi
  for spec in "${specs[@]}"; do
    [[ $spec == ?*=?* ]] || ops_usage_error "bad node '$spec' (want NAME=HOST)"
    ops__add_node "${spec%%=*}" "${spec#*=}"
  done

  local kube_src=""
  if [[ -n $OPS_FLAG_KUBECONFIG ]]; then OPS_KUBECONFIG=$OPS_FLAG_KUBECONFIG; kube_src="--kubeconfig"
  elif [[ -n ${KUBECONFIG:-} ]]; then OPS_KUBECONFIG=$KUBECONFIG; kube_src="KUBECONFIG"; fi

  if { [[ -n $need_kube && -z $OPS_KUBECONFIG ]] || [[ -n $need_ssh ]]; } && ops__load_stack; then
    if [[ -n $need_kube && -z $OPS_KUBECONFIG ]]; then
      ops_step "read kubeconfig from the stack"
      ops__pulumi kubeconfig --show-secrets >"$OPS_TMP/kubeconfig" 2>"$OPS_TMP/pulumi.err" ||
        ops_die "pulumi stack output kubeconfig failed: $(head -c 400 "$OPS_TMP/pulumi.err")"
      chmod 600 "$OPS_TMP/kubeconfig"
      OPS_KUBECONFIG=$OPS_TMP/kubeconfig; kube_src="stack output kubeconfig"
    fi
    # Nodes are read whenever the stack is: verify compares INTERNAL-IPs even without SSH.
    ops_step "read nodes from the stack"
    while IFS='|' read -r name role ip host user port; do
      [[ -n $name ]] || continue
      # A --node/OPS_NODES entry wins for the address; the stack still tells role and IP.
      if ((${#specs[@]} == 0)) || [[ -n ${OPS_NODE_HOST[$name]+x} ]]; then
        [[ -n ${OPS_NODE_HOST[$name]+x} ]] || ops__add_node "$name" "$host"
        OPS_NODE_ROLE[$name]=$role; OPS_NODE_IP[$name]=$ip; OPS_NODE_USER[$name]=$user
        [[ -n $port ]] && OPS_NODE_PORT[$name]=$port
      fi
    done < <(ops__stack_nodes)
    if [[ -n $need_ssh ]]; then
      if [[ -z $OPS_FLAG_KEY && -z $OPS_ENV_SSH_KEY ]] && ops__stack_has sshPrivateKey; then
        ops__pulumi sshPrivateKey --show-secrets >"$OPS_TMP/ssh-key" 2>"$OPS_TMP/pulumi.err" ||
          ops_die "pulumi stack output sshPrivateKey failed: $(head -c 400 "$OPS_TMP/pulumi.err")"
        chmod 600 "$OPS_TMP/ssh-key"
        OPS_SSH_KEY=$OPS_TMP/ssh-key
      fi
    fi
  fi

  local pair
  for pair in "${OPS_FLAG_NODE_IPS[@]}"; do OPS_NODE_IP[${pair%%=*}]=${pair#*=}; done
  if [[ -n $OPS_FLAG_KEY ]]; then OPS_SSH_KEY=$OPS_FLAG_KEY; elif [[ -n $OPS_ENV_SSH_KEY ]]; then OPS_SSH_KEY=$OPS_ENV_SSH_KEY; fi

  if [[ -n $need_kube ]]; then
    [[ -n $OPS_KUBECONFIG ]] || ops_die "no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, or run where \`pulumi stack output\` works (pulumi CLI, OPS_PROJECT_DIR, --stack)" 2
    # KUBECONFIG may list several files (a:b); kubectl itself reports those.
    [[ $OPS_KUBECONFIG == *:* || -r $OPS_KUBECONFIG ]] || ops_die "kubeconfig $OPS_KUBECONFIG is not readable" 2
    ops_log "kubeconfig: $kube_src"
  fi
  if [[ -n $need_ssh ]]; then
    ((${#OPS_NODE_NAMES[@]})) || ops_die "no nodes to reach over SSH: pass --node NAME=HOST (repeatable), set OPS_NODES, or run where \`pulumi stack output nodes\` works" 2
    [[ -z $OPS_SSH_KEY || -r $OPS_SSH_KEY ]] || ops_die "SSH key $OPS_SSH_KEY is not readable" 2
  fi
}

# --- reaching nodes -------------------------------------------------------------------------------

# ssh/scp options for a node into OPS_SSH_OPTS_ARR. Host keys: accept-new, so a first contact works
# and a changed key (a VM recreated at the same IP) stops with ssh's own message; see docs.
ops__ssh_opts() {
  local n=$1 user port
  user=${OPS_FLAG_USER:-${OPS_ENV_SSH_USER:-${OPS_NODE_USER[$n]:-}}}
  port=${OPS_FLAG_PORT:-${OPS_ENV_SSH_PORT:-${OPS_NODE_PORT[$n]:-22}}}
  OPS_SSH_OPTS_ARR=(-o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new
    -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o LogLevel=ERROR -o "Port=$port")
  [[ -n $user ]] && OPS_SSH_OPTS_ARR+=(-o "User=$user")
  [[ -n $OPS_SSH_KEY ]] && OPS_SSH_OPTS_ARR+=(-i "$OPS_SSH_KEY" -o IdentitiesOnly=yes)
  if [[ -n ${OPS_SSH_OPTS:-} ]]; then
    local extra
    read -r -a extra <<<"$OPS_SSH_OPTS"
    OPS_SSH_OPTS_ARR+=("${extra[@]}")
  fi
}

ops_node_host() {
  [[ -n ${OPS_NODE_HOST[$1]+x} ]] || ops_die "unknown node '$1' (known: ${OPS_NODE_NAMES[*]:-none}); add --node $1=HOST" 2
  printf '%s' "${OPS_NODE_HOST[$1]}"
}

# ops_remote NODE TIMEOUT SCRIPT [ARGS...]: runs SCRIPT (text) as root on NODE via `sudo -n bash -s`,
# bounded by TIMEOUT seconds. Retries only when ssh itself failed to connect (exit 255), so a
# remote command never runs twice because of a retry.
ops_remote() {
  local n=$1 t=$2 script=$3 host attempt rc=0 remote_cmd
  shift 3
  host=$(ops_node_host "$n")
  ops__ssh_opts "$n"
  remote_cmd="sudo -n bash -s --"
  (($#)) && remote_cmd+=" $(printf '%q ' "$@")"
  for attempt in 1 2 3; do
    rc=0
    timeout --kill-after=5 "$t" ssh "${OPS_SSH_OPTS_ARR[@]}" "$host" "$remote_cmd" <<<"$script" || rc=$?
    [[ $rc -ne 255 ]] && return "$rc"
    ops_log "ssh to $n ($host) failed to connect (attempt $attempt/3)"
    ((attempt < 3)) && sleep $((attempt * 2))
  done
  ops_log "cannot reach $n over SSH at $host: check the address, user (--user) and key (--key)"
  return 255
}

# ops_remote_file NODE TIMEOUT FILE [ARGS...]: as ops_remote, with the script read from FILE.
ops_remote_file() {
  local n=$1 t=$2 f=$3
  shift 3
  ops_remote "$n" "$t" "$(cat "$f")" "$@"
}

# ops_scp_from NODE TIMEOUT REMOTE_DIR LOCAL_DIR: copies a remote directory's contents, retried.
ops_scp_from() {
  local n=$1 t=$2 src=$3 dst=$4 host attempt
  host=$(ops_node_host "$n")
  ops__ssh_opts "$n"
  mkdir -p "$dst"
  for attempt in 1 2 3; do
    timeout --kill-after=5 "$t" scp -q -r "${OPS_SSH_OPTS_ARR[@]}" "$host:$src/." "$dst/" && return 0
    ops_log "scp from $n failed (attempt $attempt/3)"
    ((attempt < 3)) && sleep $((attempt * 2))
  done
  return 1
}

# --- kubectl ----------------------------------------------------------------------------------------

# Every kubectl call is bounded twice: the API request and the process.
ops_kubectl() {
  timeout --kill-after=5 60 kubectl --kubeconfig "$OPS_KUBECONFIG" --request-timeout=30s "$@"
}

# Reads are safe to repeat: three tries with a short pause (API server restarts, flaky links).
ops_kubectl_read() {
  local attempt
  for attempt in 1 2 3; do
    ops_kubectl "$@" && return 0
    ((attempt < 3)) && sleep "$attempt"
  done
  return 1
}

# The control-plane node: the stack's role, else the node-role label.
ops_control_plane() {
  local n
  for n in "${OPS_NODE_NAMES[@]}"; do
    [[ ${OPS_NODE_ROLE[$n]:-} == control-plane ]] && { printf '%s' "$n"; return 0; }
  done
  [[ -n $OPS_KUBECONFIG ]] || return 1
  n=$(ops_kubectl_read get nodes -l node-role.kubernetes.io/control-plane -o jsonpath='{.items[0].metadata.name}') || return 1
  [[ -n $n ]] && printf '%s' "$n"
}

# Worker nodes among the known SSH targets (everything that is not the control plane).
ops_workers() {
  local cp=$1 n
  for n in "${OPS_NODE_NAMES[@]}"; do [[ $n != "$cp" ]] && printf '%s\n' "$n"; done
  return 0
}
