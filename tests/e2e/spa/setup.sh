#!/usr/bin/env bash
# Sets up the SPA example on a Gatehouse started with the README's first command: a tenant
# `demo`, two users (`vera` with the `reports-viewer` role, `bob` without), the SPA's public
# client, and public/config.json for the app. Run it from anywhere, once the server is up.
#   GATEHOUSE     how to run the CLI (default: cargo run -q --release -p gatehouse-server --)
#   SPA_ORIGIN    where the app is served (default http://localhost:5173, `npm run dev`)
#   API_ORIGIN    where reports_api listens (default http://localhost:8090)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."
read -r -a gatehouse <<< "${GATEHOUSE:-cargo run -q --release -p gatehouse-server --}"
spa="${SPA_ORIGIN:-http://localhost:5173}"
api="${API_ORIGIN:-http://localhost:8090}"
public_url="${GATEHOUSE_PUBLIC_URL:-https://localhost:8443}"

json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s)[process.argv[1]])))' "$1"; }
password() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

"${gatehouse[@]}" tenant create demo --display-name "Demo" --json >/dev/null
for user in vera bob; do
  pw="$(password)"
  roles=()
  [ "$user" = vera ] && roles=(--role reports-viewer)
  printf '%s' "$pw" | "${gatehouse[@]}" user create --tenant demo --username "$user" \
    --email "$user@example.com" --password-stdin "${roles[@]}" --json >/dev/null
  echo "user $user, password $pw"
done
client_id="$("${gatehouse[@]}" client create --tenant demo --name "Reports SPA" --type public \
  --redirect-uri "$spa/callback" --post-logout-redirect-uri "$spa/signed-out" --web-origin "$spa" \
  --grant authorization_code refresh_token --scope "openid profile offline_access reports:read" \
  --audience "$api" --first-party --json | json_field client_id)"
cat > "$here/public/config.json" <<JSON
{
  "issuer": "$public_url/tenants/demo",
  "clientId": "$client_id",
  "apiUrl": "$api",
  "scope": "openid profile offline_access reports:read"
}
JSON
echo "wrote $here/public/config.json (client $client_id)"
