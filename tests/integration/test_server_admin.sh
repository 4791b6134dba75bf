#!/usr/bin/env bash
# test_server_admin.sh — weft-server's CLI and admin protocol through the
# real binary: init (and the refusal to re-init), serve in the background,
# every admin command with its table and --json output, refusals with
# clear one-line messages, malformed admin requests changing nothing, the
# audit log, file modes, clean stop, and the error when no server runs.
# Node cases join real nodes with build/tools/ctlprobe over loopback when
# it is built (skipped otherwise): online and last seen, renames pushed to
# the nodes that looked the node up, removed keys refused for good, logout,
# lifecycle log lines, a restart keeping everything with known keys
# reconnecting, and ephemeral nodes reaped after a short
# --ephemeral-timeout.  No root or namespaces needed.
#
#   BUILD=build|build-san    which build (default build)
#   WEFT_SERVER=PATH         the binary (default $BUILD/weft-server)
# Prints "# ok - ..." / "# FAIL - ..." per check; exit 0 when all passed.
. "$(dirname "$0")/lib.sh"
it_init srv
PROBE=$IT_ROOT/$BUILD/tools/ctlprobe
# run CMD...: OUT, ERR, RC of one bounded run.
run() {
	timeout -k 2 5 "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	[[ $ERR == *Sanitizer* ]] && not_ok "sanitizer report from: ${*##*/}"
}
ws() { run "$BIN" "$@"; }
# expect_ok DESC CMD...: exit 0.
expect_ok() {
	local d=$1
	shift
	ws "$@"
	if ((RC == 0)); then ok "$d"; else not_ok "$d (exit $RC)"; fi
}
# expect_refused DESC PATTERN CMD...: exit 1, one line on stderr
# containing PATTERN, nothing on stdout.
expect_refused() {
	local d=$1 pat=$2
	shift 2
	ws "$@"
	if ((RC == 1)) && [[ -z $OUT && $ERR == *"$pat"* && $(wc -l <"$T/err") -eq 1 ]]; then
		ok "$d"
	else
		not_ok "$d (exit $RC, wanted one stderr line with '$pat'; got '$ERR')"
	fi
}
# py EXPR: evaluates a Python expression over the JSON in $OUT (as d).
py() {
	"$PY" -c 'import json, sys; d = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' \
		"$1" <<<"$OUT" 2>>"$T/err"
}
# check DESC EXPR WANT: py EXPR prints WANT.
check() {
	local got
	got=$(py "$2")
	if [[ $got == "$3" ]]; then ok "$1"; else not_ok "$1 (got '$got', want '$3')"; fi
}
# admin_raw TEXT: sends TEXT as-is to the admin socket, prints the answer.
admin_raw() {
	timeout 10 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())' "$SOCK" "$1"
}
mode_of() { stat -c %a "$1" 2>/dev/null; }
# log_has DESC PATTERN: the server's log has a line matching PATTERN (ERE).
log_has() {
	if grep -qE "$2" "$T/server.log"; then ok "$1"; else
		not_ok "$1 (no log line matching '$2')"
		tail -5 "$T/server.log" | sed 's/^/#   server: /'
	fi
}
# probe_bg OUTFILE ARGS...: ctlprobe in the background (bounded), pid in BG.
probe_bg() {
	local out=$1
	shift
	timeout -k 2 25 "$PROBE" "$@" >"$out" 2>&1 &
	BG=$!
}
# wait_line FILE PATTERN: up to 10 s for a line matching PATTERN (ERE).
wait_line() {
	for _ in $(seq 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

if [[ ! -x $BIN ]]; then
	echo "# FAIL - $BIN is not built (run make)"
	exit 1
fi
PORT=$(free_port)	# UDP and TCP: the relay listens on the same port number
UID_NOW=$(id -u)

# --- the command line itself ---
expect_ok "--help exits 0" --help
[[ $OUT == *"networks create"* && $OUT == *"keys create"* ]] && ok "--help lists the commands" || not_ok "--help lists the commands"
expect_ok "networks --help exits 0" networks --help
expect_ok "keys create --help exits 0" keys create --help
[[ $OUT == usage:*"--expires DURATION"* ]] && ok "keys create --help shows its usage on stdout" || not_ok "keys create --help usage"
ws
((RC == 1)) && [[ -z $OUT && -n $ERR ]] && ok "no command: usage on stderr, exit 1" || not_ok "no command (exit $RC)"
expect_refused "unknown command" "unknown command 'frobnicate'" frobnicate
expect_refused "unknown option" "unknown option '--bogus'" networks list --bogus
expect_refused "missing argument" "missing argument" networks create
expect_refused "option without its value" "needs a value" keys create --network

# --- no server yet ---
expect_refused "admin command with no server" \
	"weft-server is not running (no answer on $SOCK); start it with: weft-server serve" networks list
expect_refused "serve before init" "weft-server init --endpoint" serve --check

# --- init ---
expect_refused "init needs --endpoint" "--endpoint HOST:PORT is required" init
expect_refused "init refuses a bad endpoint" "endpoint 'nope' is not usable" init --endpoint nope
expect_refused "init refuses a bad listen address" "listen address 'x:1' is not" \
	init --endpoint "127.0.0.1:$PORT" --listen x:1
expect_ok "init" init --endpoint "127.0.0.1:$PORT"
PUB=$OUT
[[ $PUB =~ ^[A-Za-z0-9+/]{43}=$ ]] && ok "init prints the server public key" || not_ok "init prints the public key (got '$PUB')"
[[ $(mode_of "$WEFT_STATE_DIR/server.key") == 600 ]] && ok "server.key is mode 0600" || not_ok "server.key mode $(mode_of "$WEFT_STATE_DIR/server.key")"
[[ $(mode_of "$WEFT_STATE_DIR") == 700 ]] && ok "state directory is mode 0700" || not_ok "state dir mode $(mode_of "$WEFT_STATE_DIR")"
grep -q "$PUB" "$WEFT_STATE_DIR/server.key" && not_ok "server.key holds the private key, not the public one" || ok "server.key does not hold the public key"
cp "$WEFT_STATE_DIR/server.key" "$T/key.before"
expect_refused "init refuses to overwrite" "already initialised; refusing to overwrite" \
	init --endpoint "127.0.0.1:$PORT"
cmp -s "$T/key.before" "$WEFT_STATE_DIR/server.key" && ok "re-init left the key alone" || not_ok "re-init changed the key"
expect_ok "serve --check" serve --check
[[ $OUT == *"configuration OK"* && $OUT == *"$PUB"* ]] && ok "serve --check reports the key" || not_ok "serve --check output"
chmod 644 "$WEFT_STATE_DIR/server.key"
expect_refused "a world-readable key is refused" "chmod 600" serve --check
chmod 600 "$WEFT_STATE_DIR/server.key"

# --- serve ---
if start_server; then ok "serve starts and answers"; else
	not_ok "serve starts and answers"
	sed 's/^/#   server: /' "$T/server.log"
	exit 1
fi
[[ $(mode_of "$SOCK") == 600 ]] && ok "admin.sock is mode 0600" || not_ok "admin.sock mode $(mode_of "$SOCK")"
expect_refused "a second serve is refused" "already running" serve

# --- networks ---
expect_ok "networks create lab" networks create lab
expect_ok "networks create with prefixes" networks create ops --prefix4 10.20.0.0/24 --prefix6 fd00:1:2:3::/64
expect_ok "networks create v4 only" networks create v4only --prefix4 10.30.0.0/16 --prefix6 none
expect_refused "duplicate network" 'network "lab" already exists' networks create lab
expect_refused "bad CIDR" "bad --prefix4 '10.0.0.1/24'" networks create bad --prefix4 10.0.0.1/24
expect_refused "not a CIDR" "bad --prefix4 'banana'" networks create bad --prefix4 banana
expect_refused "IPv6 prefix as --prefix4" "it is an IPv6 prefix" networks create bad --prefix4 fd00::/64
expect_refused "bad network name" "network name" networks create Bad_Name
expect_ok "networks list --json" networks list --json
check "networks list: the three networks" '" ".join(n["name"] for n in d)' "lab ops v4only"
check "networks list: given prefixes" '[n for n in d if n["name"] == "ops"][0]["prefix4"] + " " + [n for n in d if n["name"] == "ops"][0]["prefix6"]' \
	"10.20.0.0/24 fd00:1:2:3::/64"
check "networks list: default IPv4 /16 of 100.64.0.0/10" '[n for n in d if n["name"] == "lab"][0]["prefix4"]' "100.64.0.0/16"
check "networks list: prefix none is null" '[n for n in d if n["name"] == "v4only"][0]["prefix6"]' "None"
expect_ok "networks list (table)" networks list
[[ $OUT == NAME*PREFIX4*lab*ops*v4only* ]] && ok "networks list table" || not_ok "networks list table: $OUT"

# --- join keys ---
expect_ok "keys create" keys create --network lab
TOKEN1=$OUT
[[ $TOKEN1 =~ ^weft1:[A-Za-z0-9_-]{87}:127\.0\.0\.1:$PORT$ && $(wc -l <<<"$OUT") -eq 1 ]] &&
	ok "keys create prints one token line with the endpoint" || not_ok "token format: '$TOKEN1'"
expect_ok "keys create with every option" keys create --network lab --reusable --ephemeral --expires 1h --tag robot --tag arm
TOKEN2=$OUT
expect_refused "keys create: bad duration" "bad --expires" keys create --network lab --expires 1x
expect_refused "keys create: unknown network" 'no network named "nowhere"' keys create --network nowhere
expect_refused "keys create: bad tag" "tag" keys create --network lab --tag 'no way'
expect_refused "keys create: needs --network" "--network NAME is required" keys create
expect_ok "keys list --json" keys list --json
check "keys list: two keys" 'len(d)' 2
check "keys list: fields" 'sorted(d[0].keys())' \
	"['created', 'ephemeral', 'expires', 'id', 'network', 'reusable', 'revoked', 'state', 'tags', 'uses']"
check "keys list: the options stored" '[(k["reusable"], k["ephemeral"], k["expires"] is not None, k["tags"]) for k in d if k["reusable"]]' \
	"[(True, True, True, ['robot', 'arm'])]"
SECRET1=${TOKEN1:6:87}
[[ $OUT != *"$SECRET1"* && $OUT != *"${TOKEN2:6:87}"* ]] && ok "keys list never shows a secret" || not_ok "keys list shows a secret"
KEY_ONEOFF=$(py '[k["id"] for k in d if not k["reusable"]][0]')
KEY_REUSE=$(py '[k["id"] for k in d if k["reusable"]][0]')
expect_ok "keys list --network" keys list --network ops --json
check "keys list --network ops is empty" 'len(d)' 0
expect_ok "keys revoke" keys revoke "$KEY_ONEOFF"
expect_ok "keys list after revoke" keys list --json
check "the revoked key shows revoked" "[k['revoked'] for k in d if k['id'] == '$KEY_ONEOFF'][0]" True
expect_refused "revoke an unknown key" 'no join key with id "0123456789abcdef"' keys revoke 0123456789abcdef
expect_ok "keys list (table)" keys list
[[ $OUT == ID*NETWORK*REVOKED*"$KEY_ONEOFF"* ]] && ok "keys list table" || not_ok "keys list table"

# --- nodes ---
expect_ok "nodes list --json, no nodes" nodes list --json
check "nodes list is empty" 'len(d)' 0
expect_refused "nodes delete unknown" 'no node "ghost"' nodes delete ghost
expect_refused "nodes rename unknown network" 'no network named "nowhere"' nodes rename a b --network nowhere
expect_refused "nodes rename to a bad name" "node name" nodes rename a Bad_Name
if [[ -x $PROBE ]]; then
	run "$PROBE" --hostname robot-1 "$TOKEN2"
	((RC == 0)) && [[ $OUT == registered* ]] && ok "a node joins (ctlprobe)" || not_ok "node join: $OUT $ERR"
	run "$PROBE" --hostname Robot-1.example.com "$TOKEN2"
	((RC == 0)) && [[ $OUT == *name=robot-1-2.* ]] && ok "a second node joins with a suffixed name" || not_ok "second join: $OUT $ERR"
	run "$PROBE" --hostname late "$TOKEN1"
	((RC != 0)) && ok "the revoked one-off key is refused" || not_ok "revoked key admitted a node"
	expect_ok "nodes list --json" nodes list --json
	check "nodes list: two nodes with addresses" '[(n["name"], n["network"], n["ipv4"]) for n in d]' \
		"[('robot-1', 'lab', '100.64.0.2'), ('robot-1-2', 'lab', '100.64.0.3')]"
	check "nodes list: fields" '[k in d[0] for k in ("ipv6", "key_prefix", "online", "last_seen", "endpoints")]' \
		"[True, True, True, True, True]"
	ID2=$(py 'd[1]["id"]')
	expect_ok "nodes list (table)" nodes list --network lab
	[[ $OUT == NAME*IPV4*KEY*ONLINE*"LAST SEEN"*ENDPOINTS*robot-1* ]] && ok "nodes list table" || not_ok "nodes list table"
	expect_refused "network delete refused while nodes remain" "still has 2 node(s)" networks delete lab
	expect_ok "nodes rename" nodes rename robot-1 arm --network lab
	expect_refused "nodes rename onto a taken name" "already taken" nodes rename arm robot-1-2
	expect_ok "nodes expire by id" nodes expire "$ID2"
	expect_ok "nodes list after expire" nodes list --json
	check "the expired node shows expired" "[n['expired'] for n in d if n['id'] == $ID2][0]" True
	expect_ok "nodes delete" nodes delete arm
	expect_ok "nodes list after delete" nodes list --json
	check "one node left" '[n["name"] for n in d]' "['robot-1-2']"
	expect_ok "networks delete --force" networks delete lab --force
	expect_ok "nodes list after the forced delete" nodes list --json
	check "no nodes left" 'len(d)' 0
else
	echo "# skip - node cases: $PROBE is not built"
	expect_ok "networks delete" networks delete lab
fi
expect_refused "networks delete unknown" 'no network named "lab"' networks delete lab
expect_ok "networks delete ops" networks delete ops

# --- malformed admin requests: refused, named, nothing changed ---
expect_ok "networks list before malformed requests" networks list --json
BEFORE=$OUT
check_raw() {
	local got
	got=$(admin_raw "$2")
	[[ $got == *'"ok":false'* && $got == *"$3"* ]] && ok "malformed: $1" || not_ok "malformed: $1 (got '$got')"
}
check_raw "not JSON" 'garbage' "not valid JSON"
check_raw "not an object" '[1, 2]' "not a JSON object"
check_raw "extra member" '{"command": "network.list", "x": 1}' "member other than"
check_raw "no command" '{"args": {}}' 'no \"command\"'
check_raw "unknown command" '{"command": "network.explode"}' "unknown admin command"
check_raw "wrong argument type" '{"command": "network.create", "args": {"name": 7}}' 'must be a string'
check_raw "unknown argument" '{"command": "network.create", "args": {"name": "x", "owner": "me"}}' 'no argument \"owner\"'
check_raw "missing argument" '{"command": "network.delete", "args": {}}' 'needs \"name\"'
check_raw "two requests" '{"command": "network.list"} {"command": "network.list"}' "not valid JSON (unexpected character at byte"
check_raw "two lines" $'{"command": "network.list"}\n{"command": "network.list"}' "data after the request's newline"
check_raw "too large" "$(head -c 70000 /dev/zero | tr '\0' ' ')" "larger than 65536"
expect_ok "networks list after malformed requests" networks list --json
[[ $OUT == "$BEFORE" ]] && ok "malformed requests changed nothing" || not_ok "malformed requests changed the networks"

# --- audit ---
expect_ok "audit --json" audit --json
check "audit: actor names admin and uid" "all(e['actor'] == 'admin:uid=$UID_NOW' for e in d if e['actor'].startswith('admin'))" True
check "audit: network.create ok and refused" "sorted(set(e['result'] for e in d if e['action'] == 'network.create'))" \
	"['already exists', 'invalid', 'ok']"
check "audit: key create, revoke and its refusal" "sorted(set((e['action'], e['result']) for e in d if e['action'].startswith('key.')))" \
	"[('key.create', 'invalid'), ('key.create', 'not found'), ('key.create', 'ok'), ('key.list', 'ok'), ('key.revoke', 'not found'), ('key.revoke', 'ok')]"
check "audit: malformed requests recorded" "len([e for e in d if e['action'] == 'admin.request'])" 8
check "audit: refused arguments recorded" "len([e for e in d if e['result'] == 'invalid' and 'owner' in e['detail']])" 1
check "audit: network.delete recorded" "'network.delete' in [e['action'] for e in d]" True
check "audit: every entry has time, object, result" "all(e['time'] and e['object'] and e['result'] for e in d)" True
if [[ -x $PROBE ]]; then
	check "audit: node lifecycle" "sorted(set(e['action'] for e in d if e['action'].startswith('node.') and e['action'] != 'node.list'))" \
		"['node.delete', 'node.expire', 'node.join', 'node.rename']"
fi
ALL=$(py 'len(d)')
expect_ok "audit --since 1h" audit --since 1h --json
check "audit --since 1h has everything" 'len(d)' $((ALL + 1))
expect_ok "audit --since the future" audit --since 2999-01-01T00:00:00Z --json
check "audit --since the future is empty" 'len(d)' 0
expect_refused "audit --since bad" "bad --since" audit --since yesterday
expect_ok "audit (table)" audit
[[ $OUT == TIME*ACTOR*ACTION*OBJECT*RESULT*network.create* ]] && ok "audit table" || not_ok "audit table"
expect_ok "status --json" status --json
check "status: public key" 'd["public_key"]' "$PUB"

# --- node lifecycle over the control plane ---
if [[ -x $PROBE ]]; then
	expect_ok "networks create home" networks create home
	expect_ok "keys create a reusable key for home" keys create --network home --reusable
	TOKH=$OUT
	run "$PROBE" --key-file "$T/alpha.key" --hostname alpha "$TOKH"
	((RC == 0)) && [[ $OUT == "registered "*name=alpha.home.weft ]] && ok "alpha joins" || not_ok "alpha joins: $OUT"
	log_has "log: a join names the node, its addresses and network" \
		'info: node alpha joined network home: [0-9.]+, [0-9a-f:]+, key [A-Za-z0-9+/]{43}=, join key [0-9a-f]{16}$'
	expect_ok "nodes list after a session" nodes list --network home --json
	check "a node just heard from is online" '[(n["name"], n["online"]) for n in d]' "[('alpha', True)]"
	check "it has a last seen time, not before it was created" \
		'd[0]["last_seen"] is not None and d[0]["last_seen"] >= d[0]["created"]' True
	expect_ok "nodes list (table)" nodes list --network home
	[[ $(grep '^alpha ' <<<"$OUT") == *" yes "*"Z "* ]] && ok "the table shows online yes and the last seen time" ||
		not_ok "nodes list table online: $OUT"

	# A rename reaches the nodes that looked the node up.
	run "$PROBE" --key-file "$T/beta.key" --hostname beta "$TOKH"
	((RC == 0)) && [[ $OUT == registered* ]] && ok "beta joins" || not_ok "beta joins: $OUT"
	BETA_IPV4=$(sed -n 's/.* ipv4=\([0-9.]*\)\/.*/\1/p' <<<"$OUT")
	probe_bg "$T/watch.out" --key-file "$T/alpha.key" --zero-secret --lookup beta \
		--wait 15 --until-notify peer_changed "$TOKH"
	if wait_line "$T/watch.out" '^lookup beta '; then ok "alpha reconnects by key and looks beta up"; else
		not_ok "alpha looks beta up: $(cat "$T/watch.out")"
	fi
	expect_ok "nodes rename beta gamma" nodes rename beta gamma --network home
	wait "$BG"
	WATCH=$(grep '^notify peer_changed' "$T/watch.out")
	[[ $WATCH == *" name=gamma.home.weft "* && $WATCH == *" ipv4=$BETA_IPV4 "* && $WATCH == *" ipv6="* ]] &&
		ok "the rename is pushed (peer_changed with the new name and the addresses)" ||
		not_ok "rename push: $(cat "$T/watch.out")"
	log_has "log: the rename" 'info: node gamma \(network home\) renamed from beta by admin:uid='

	# Removed by an administrator: refused for good, token or not.
	expect_ok "nodes delete gamma" nodes delete gamma --network home
	log_has "log: the removal" 'info: node gamma \(network home\) removed by admin:uid=[0-9]+ \(node.delete\)'
	REMOVED_MSG="message=this node was removed by an administrator; run 'weft logout' and join again with a new key"
	run "$PROBE" --key-file "$T/beta.key" --hostname beta "$TOKH"
	((RC == 1)) && [[ $OUT == *"error REGISTER code=expired $REMOVED_MSG"* ]] &&
		ok "a deleted node's key is refused even with a valid reusable token" || not_ok "deleted key refused: $OUT"
	run "$PROBE" --key-file "$T/beta.key" --zero-secret "$TOKH"
	((RC == 1)) && [[ $OUT == *"error REGISTER code=expired $REMOVED_MSG"* ]] &&
		ok "and when it reconnects by key" || not_ok "deleted key reconnect refused: $OUT"
	log_has "log: the refusal says why" \
		'info: refused node.join from key [A-Za-z0-9+/]{43}=: the key of node gamma \(network home\), deleted by an administrator'
	run "$PROBE" --key-file "$T/delta.key" --hostname delta "$TOKH"
	((RC == 0)) && [[ $OUT == *name=delta.home.weft ]] && ok "the token still admits a new key" || not_ok "delta joins: $OUT"
	DELTA_ID=$(sed -n 's/^registered id=\([0-9]*\) .*/\1/p' <<<"$OUT")
	expect_ok "nodes expire alpha" nodes expire alpha --network home
	run "$PROBE" --key-file "$T/alpha.key" --zero-secret "$TOKH"
	((RC == 1)) && [[ $OUT == *"error REGISTER code=expired message=this node was expired by an administrator; run 'weft logout'"* ]] &&
		ok "an expired node cannot reconnect" || not_ok "expired reconnect: $OUT"
	run "$PROBE" --key-file "$T/alpha.key" --hostname alpha "$TOKH"
	((RC == 1)) && [[ $OUT == *"code=expired message=this node was expired by an administrator"* ]] &&
		ok "nor join again with a valid token" || not_ok "expired rejoin: $OUT"

	# Logging out is the node's own choice: its key is not blocked.
	run "$PROBE" --key-file "$T/leaver.key" --hostname leaver --logout "$TOKH"
	((RC == 0)) && [[ $OUT == *"logged out" ]] && ok "a node logs out" || not_ok "logout: $OUT"
	log_has "log: the logout" 'info: node leaver \(network home\) logged out$'
	run "$PROBE" --key-file "$T/leaver.key" --hostname leaver "$TOKH"
	((RC == 0)) && [[ $OUT == *name=leaver.home.weft ]] && ok "a logged-out key may join again" || not_ok "rejoin after logout: $OUT"

	expect_ok "audit after the lifecycle" audit --json
	check "audit: the refusals of removed keys" \
		"sorted(set((e['action'], e['object']) for e in d if e['result'] == 'refused' and 'by an administrator' in e['detail']))" \
		"[('node.join', 'gamma'), ('node.reconnect', 'alpha'), ('node.reconnect', 'gamma')]"
	check "audit: one entry per refused request, not per retry" \
		"len([e for e in d if e['result'] == 'refused' and e['object'] == 'gamma'])" 2
	check "audit: the logout; a node re-registering while online is no reconnect" \
		"sorted(set(e['action'] for e in d if e['result'] == 'ok' and e['action'] in ('node.reconnect', 'node.logout')))" \
		"['node.logout']"
	check "audit: nodes act under their key's prefix" \
		"all(e['actor'].startswith('node:') and len(e['actor']) == 13 for e in d if e['action'] in ('node.join', 'node.reconnect', 'node.logout'))" True

	# The live last seen (delta's reconnect) is ahead of the store's.
	sleep 1
	run "$PROBE" --key-file "$T/delta.key" --zero-secret "$TOKH"
	((RC == 0)) && [[ $OUT == "registered id=$DELTA_ID "* ]] && ok "delta reconnects by key" || not_ok "delta reconnect: $OUT"
	expect_ok "nodes list before the restart" nodes list --network home --json
	check "online and expired as they should be" '[(n["name"], n["online"], n["expired"]) for n in d]' \
		"[('alpha', False, True), ('delta', True, False), ('leaver', True, False)]"
	check "delta was seen after it was created" \
		'[n["last_seen"] > n["created"] for n in d if n["name"] == "delta"]' "[True]"
	DELTA_SEEN=$(py '[n["last_seen"] for n in d if n["name"] == "delta"][0]')
fi

# --- stop, the error without a server, restart keeps state ---
stop_server
((SERVER_RC == 0)) && ok "SIGTERM: clean exit" || not_ok "SIGTERM: exit status $SERVER_RC"
[[ ! -e $SOCK ]] && ok "admin.sock removed on exit" || not_ok "admin.sock left behind"
grep -qE '^[0-9T:Z-]+ info: stopping' "$T/server.log" && ok "log lines carry time and level" || not_ok "log format"
expect_refused "admin command after stop" \
	"weft-server is not running (no answer on $SOCK); start it with: weft-server serve" audit
if start_server --ephemeral-timeout 3s; then ok "serve restarts"; else not_ok "serve restarts"; fi
log_has "the start is logged with the ephemeral timeout" 'info: weft-server started: .*ephemeral nodes removed after 3s offline'
expect_ok "networks list after restart" networks list --json
if [[ -x $PROBE ]]; then
	check "state survives a restart" '[n["name"] for n in d]' "['v4only', 'home']"
	expect_ok "nodes list after restart" nodes list --network home --json
	check "the nodes survive, none online yet" '[(n["name"], n["online"]) for n in d]' \
		"[('alpha', False), ('delta', False), ('leaver', False)]"
	check "the live last seen was saved at shutdown" '[n["last_seen"] for n in d if n["name"] == "delta"][0]' "$DELTA_SEEN"
	LEAVER_KEY=$(py '[n["public_key"] for n in d if n["name"] == "leaver"][0]')
	run "$PROBE" --key-file "$T/delta.key" --skip-register --lookup leaver "$TOKH"
	((RC == 1)) && [[ $OUT == "error LOOKUP code=not_registered message="*"send REGISTER first" ]] &&
		ok "a known key's new session is told to register first" || not_ok "lookup before register: $OUT"
	run "$PROBE" --key-file "$T/delta.key" --zero-secret --lookup leaver "$TOKH"
	((RC == 0)) && [[ $OUT == "registered id=$DELTA_ID "* && $OUT == *"lookup leaver "* ]] &&
		ok "a known key reconnects after the restart (same node)" || not_ok "reconnect after restart: $OUT"
	expect_ok "keys create for v4only" keys create --network v4only
	run "$PROBE" --hostname outsider "$OUT"
	expect_ok "nodes list v4only" nodes list --network v4only --json
	OUTSIDER_KEY=$(py 'd[0]["public_key"]')
	run "$PROBE" --key-file "$T/delta.key" --zero-secret --lookup "$LEAVER_KEY" --lookup "$OUTSIDER_KEY" "$TOKH"
	[[ $OUT == *"lookup $LEAVER_KEY key=$LEAVER_KEY "*" name=leaver.home.weft "* &&
		$OUT == *"error LOOKUP code=not_found"* ]] &&
		ok "LOOKUP by public key: a node of the network, not one of another" ||
		not_ok "lookup by key: $OUT"
	log_has "log: the reconnect" 'info: node delta \(network home\) reconnected from 127\.0\.0\.1:[0-9]+ \(last seen [0-9T:Z-]+\)$'
	expect_ok "audit after the reconnect" audit --since 1m --json
	check "audit: the reconnect" "[(e['action'], e['object'], e['detail'].startswith('from 127.0.0.1:')) for e in d if e['action'] == 'node.reconnect' and e['result'] == 'ok']" \
		"[('node.reconnect', 'delta', True)]"
	expect_ok "nodes list after the reconnect" nodes list --network home --json
	check "delta is online again" '[n["online"] for n in d if n["name"] == "delta"]' "[True]"
	run "$PROBE" --key-file "$T/beta.key" --hostname beta "$TOKH"
	((RC == 1)) && [[ $OUT == *"$REMOVED_MSG"* ]] && ok "a deleted key stays refused after the restart" ||
		not_ok "deleted key after restart: $OUT"

	# Ephemeral nodes go when offline past --ephemeral-timeout (3s here).
	expect_ok "keys create an ephemeral key" keys create --network home --ephemeral --reusable
	TOKE=$OUT
	run "$PROBE" --key-file "$T/eph.key" --hostname eph "$TOKE"
	((RC == 0)) && [[ $OUT == *name=eph.home.weft ]] && ok "an ephemeral node joins" || not_ok "ephemeral join: $OUT"
	probe_bg "$T/watch2.out" --key-file "$T/delta.key" --zero-secret --lookup eph \
		--wait 15 --until-notify peer_removed "$TOKH"
	wait "$BG"
	[[ $(cat "$T/watch2.out") == *"lookup eph "*"notify peer_removed id="* ]] &&
		ok "its watcher is told when it is reaped (peer_removed)" || not_ok "reap push: $(cat "$T/watch2.out")"
	expect_ok "nodes list after the reaping" nodes list --network home --json
	check "the ephemeral node is gone, the others stay" '[n["name"] for n in d]' "['alpha', 'delta', 'leaver']"
	expect_ok "audit after the reaping" audit --json
	check "audit: the reaping" "[(e['actor'], e['object'], e['detail'].startswith('ephemeral node reaped')) for e in d if e['action'] == 'node.reap']" \
		"[('server', 'eph', True)]"
	log_has "log: the reaping" 'info: node eph \(network home\) removed: ephemeral, offline since '
	run "$PROBE" --key-file "$T/eph.key" --hostname eph "$TOKE"
	((RC == 0)) && [[ $OUT == *name=eph.home.weft ]] && ok "a reaped key is not blocked" || not_ok "rejoin after reaping: $OUT"
else
	check "state survives a restart" '[n["name"] for n in d]' "['v4only']"
fi
stop_server

it_check_server_log
it_done test_server_admin
