#!/usr/bin/env bash
# `npm run demo`: the whole job end to end against the embedded emulator, as a user would type it.
# Uses a throwaway HOME so it never touches your real config, cache or emulator state.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
amlauth() { node "$ROOT/bin/amlauth.cjs" "$@"; }

DEMO_HOME=$(mktemp -d "${TMPDIR:-/tmp}/amlauth-demo-XXXXXX")
export HOME=$DEMO_HOME XDG_CACHE_HOME=$DEMO_HOME/.cache XDG_CONFIG_HOME=$DEMO_HOME/.config XDG_STATE_HOME=$DEMO_HOME/.state
export AMLAUTH_EMULATOR_DIR=$DEMO_HOME/emulator AMLAUTH_EMULATOR=1
cleanup() { amlauth emulator stop >/dev/null 2>&1 || true; rm -rf "$DEMO_HOME"; }
trap cleanup EXIT

bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'
[ -t 1 ] || { bold=""; dim=""; off=""; }
step() { printf '\n%s# %s%s\n' "$bold" "$1" "$off"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; }

step "Start the emulator in the background (HTTPS, its own CA)"
show "amlauth emulator start --detach"
amlauth emulator start --detach --deploy-delay-ms 800
CA=$(jq -r .caFile "$AMLAUTH_EMULATOR_DIR/connection.json")

mkdir -p "$DEMO_HOME/project/src"
cat > "$DEMO_HOME/project/src/score.py" <<'PY'
import json

def init():
    pass

def run(raw_data):
    return {"echo": json.loads(raw_data)}
PY
cd "$DEMO_HOME/project"

step "Deploy a model to ACI with key auth"
show "amlauth deploy shop-aci --compute-type aci -m demo-model:1 --entry-script src/score.py --auth key"
amlauth deploy shop-aci --compute-type aci -m demo-model:1 --entry-script src/score.py --auth key

step "Deploy the same model to AKS with token auth"
show "amlauth deploy shop-aks --compute-type aks --compute-target aks-compute -m demo-model:1 --entry-script score.py --source-dir src --auth token"
amlauth deploy shop-aks --compute-type aks --compute-target aks-compute -m demo-model:1 --entry-script score.py --source-dir src --auth token

step "List the keys of the ACI service"
show "amlauth keys list shop-aci"
amlauth keys list shop-aci

step "Regenerate the secondary key (CI style: --yes); the new key is printed once"
show "amlauth keys regen shop-aci --secondary --yes"
amlauth keys regen shop-aci --secondary --yes

ACI_URI=$(amlauth auth show shop-aci -o raw)
AKS_URI=$(amlauth auth show shop-aks -o raw)

step "Call the ACI scoring URI with the primary key (kept out of argv via curl -K -)"
show "amlauth keys list shop-aci --primary --curl-config | curl -K - --cacert \$CA -d '{\"data\":[[1,2]]}' \$ACI_URI"
amlauth keys list shop-aci --primary --curl-config | curl -sS -K - --cacert "$CA" -H 'Content-Type: application/json' -d '{"data":[[1,2]]}' -w '  -> HTTP %{http_code}\n' "$ACI_URI"

step "Pipe a token into curl against the AKS scoring URI"
show 'curl -H "Authorization: Bearer $(amlauth token get shop-aks)" --cacert $CA -d ... $AKS_URI'
curl -sS -H "Authorization: Bearer $(amlauth token get shop-aks)" --cacert "$CA" -H 'Content-Type: application/json' -d '{"data":[[3,4]]}' -w '  -> HTTP %{http_code}\n' "$AKS_URI"

step "A second token get within the refresh window is served from the 0600 cache"
show "amlauth token get shop-aks -o json"
amlauth token get shop-aks -o json | jq '{tokenType, expiryOn, refreshAfter, accessToken: (.accessToken[0:12] + "…")}'

step "Switch the AKS service to key auth, then back to token auth"
show "amlauth auth set shop-aks --mode key"
amlauth auth set shop-aks --mode key
show "amlauth auth set shop-aks --mode token"
amlauth auth set shop-aks --mode token

step "Rule: token auth is not available on ACI (exit 2, nothing sent)"
show "amlauth auth set shop-aci --mode token"
amlauth auth set shop-aci --mode token || echo "  -> exit $?"

step "Rule: key and token auth never together (exit 2, nothing sent)"
echo '{"computeType": "aks", "computeTargetName": "aks-compute", "authEnabled": true, "tokenAuthEnabled": true}' > both.json
show "amlauth deploy shop-both --dc both.json -m demo-model:1 --entry-script src/score.py"
amlauth deploy shop-both --dc both.json -m demo-model:1 --entry-script src/score.py || echo "  -> exit $?"

step "Check auth end to end and explain the answer"
show "amlauth auth check shop-aks"
amlauth auth check shop-aks
show "amlauth auth check shop-aci --credential-stdin   (with a wrong key)"
printf 'definitely-not-the-key' | amlauth auth check shop-aci --credential-stdin || echo "  -> exit $?"

step "v2 online endpoints: the same verbs"
show "amlauth auth show demo-managed"
amlauth auth show demo-managed
show "amlauth keys list demo-managed --primary --header | curl -H @- ..."
V2_URI=$(amlauth auth show demo-managed -o raw)
amlauth keys list demo-managed --primary --header | curl -sS -H @- --cacert "$CA" -H 'Content-Type: application/json' -d '{"data":[[5]]}' -w '  -> HTTP %{http_code}\n' "$V2_URI"
show "amlauth token get demo-k8s | curl (aml_token on a Kubernetes endpoint)"
K8S_URI=$(amlauth auth show demo-k8s -o raw)
curl -sS -H "Authorization: Bearer $(amlauth token get demo-k8s)" --cacert "$CA" -H 'Content-Type: application/json' -d '{"data":[[6]]}' -w '  -> HTTP %{http_code}\n' "$K8S_URI"
show "amlauth auth set demo-k8s --mode aad_token   (rule: managed endpoints only)"
amlauth auth set demo-k8s --mode aad_token || echo "  -> exit $?"

step "Zero-downtime rotation: new secondary, verified, primary regenerated after clients moved"
show "amlauth keys rotate shop-aci --verify --then-primary --yes"
amlauth keys rotate shop-aci --verify --then-primary --yes >/dev/null && echo "  -> rotated (new secondary key printed on stdout)"

step "Stop the emulator"
show "amlauth emulator stop"
amlauth emulator stop
printf '\n%sDemo finished.%s\n' "$bold" "$off"
