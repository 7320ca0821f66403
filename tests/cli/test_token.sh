#!/usr/bin/env bash
# dsql generate-db-connect[-admin]-auth-token: every token vector reproduced byte for byte,
# options, errors, and no secret ever on the terminal.
set -uo pipefail
: "${DSQL_CLI:?}" "${DSQL_TESTDATA:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A clean AWS environment: nothing of the machine's own configuration may leak in, and
# the instance metadata endpoint is never contacted.
for v in $(compgen -e); do
    case "$v" in AWS_*) unset "$v" ;; esac
done
tmp=$(mktemp -d /tmp/dsql-cli-token.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp AWS_CONFIG_FILE=/nonexistent/config \
    AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials AWS_EC2_METADATA_DISABLED=true

# Each vector as NUL-separated fields (JSON strings decoded with perl-base only):
# hostname region action expires_in signing_time access_key_id secret session_token|"" has_token token
vectors() {
    perl -e '
        my %esc = ("\"" => "\"", "\\" => "\\", "/" => "/", b => "\b", f => "\f", n => "\n",
                   r => "\r", t => "\t");
        sub field {
            my ($line, $k) = @_;
            return undef if $line =~ /"$k":null/;
            return $1 if $line =~ /"$k":(\d+)/;
            $line =~ /"$k":"((?:[^"\\]|\\.)*)"/ or die "no $k";
            my $s = $1;
            $s =~ s{\\u([0-9a-fA-F]{4})|\\(.)}{
                defined $1 ? do { my $c = chr(hex $1); utf8::encode($c); $c } : $esc{$2}
            }ge;
            return $s;
        }
        while (my $line = <>) {
            my @f = map { field($line, $_) } qw(hostname region action expires_in signing_time
                access_key_id secret_access_key session_token token);
            my $has = defined $f[7] ? 1 : 0;
            $f[7] = "" unless $has;
            print join("\0", @f[0 .. 7], $has, $f[8]), "\0";
        }' "$@"
}

count=0
while IFS= read -r -d '' host && IFS= read -r -d '' region && IFS= read -r -d '' action &&
    IFS= read -r -d '' expires && IFS= read -r -d '' when && IFS= read -r -d '' akid &&
    IFS= read -r -d '' secret && IFS= read -r -d '' token && IFS= read -r -d '' has &&
    IFS= read -r -d '' want; do
    count=$((count + 1))
    cmd=generate-db-connect-auth-token
    [ "$action" = DbConnectAdmin ] && cmd=generate-db-connect-admin-auth-token
    if [ "$has" = 1 ]; then
        got=$(AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \
            "$DSQL_CLI" "$cmd" --hostname "$host" --region "$region" --expires-in "$expires" \
            --signing-time "$when"; echo "rc=$?")
    else
        got=$(AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=$secret \
            "$DSQL_CLI" "$cmd" --hostname "$host" --region "$region" --expires-in "$expires" \
            --signing-time "$when"; echo "rc=$?")
    fi
    if [ "$got" != "$want"$'\n'"rc=0" ]; then
        bad "vector $count ($host $action $expires $when)"
        printf '    want: %s\n    got:  %s\n' "$want" "$got"
    fi
done < <(vectors "$DSQL_TESTDATA/shared/token_vectors.jsonl" "$DSQL_TESTDATA/token_vectors_extra.jsonl")
if [ "$count" -eq 39 ]; then ok "all $count vectors byte for byte"; else bad "ran $count vectors, want 39"; fi

export AWS_ACCESS_KEY_ID=AKIDCLI AWS_SECRET_ACCESS_KEY=secret-cli
gen=generate-db-connect-auth-token
check "region from the host, default expiry" 0 \
    '^abc\.dsql\.eu-west-1\.on\.aws/\?Action=DbConnect&.*%2Feu-west-1%2Fdsql%2F.*X-Amz-Expires=900&' \
    "$DSQL_CLI" $gen --hostname abc.dsql.eu-west-1.on.aws
check "admin token" 0 '^abc\.dsql\.eu-west-1\.on\.aws/\?Action=DbConnectAdmin&' \
    "$DSQL_CLI" generate-db-connect-admin-auth-token --hostname=abc.dsql.eu-west-1.on.aws
check "bare cluster id expands" 0 \
    '^abcdefghijklmnopqrstuvwxyz\.dsql\.us-east-2\.on\.aws/\?Action=DbConnect&' \
    "$DSQL_CLI" $gen --hostname abcdefghijklmnopqrstuvwxyz --region us-east-2
check "AWS_REGION for a host without one" 0 'X-Amz-Credential=AKIDCLI%2F[0-9]{8}%2Fap-south-1%2F' \
    env AWS_REGION=ap-south-1 "$DSQL_CLI" $gen --hostname db.example.com
check "no region anywhere" 1 '^dsql generate-db-connect-auth-token: endpoint db\.example\.com: no AWS region found' \
    "$DSQL_CLI" $gen --hostname db.example.com
check "expires-in 0" 2 '--expires-in must be a whole number of seconds from 1 to 604800, not .0.' \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --expires-in 0
check "expires-in 604801" 2 'from 1 to 604800, not .604801.' \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --expires-in 604801
check "expires-in junk" 2 'not .15m.' \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --expires-in 15m
check "expires-in bounds 1" 0 'X-Amz-Expires=1&' \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --expires-in 1
check "bad signing time" 2 '--signing-time must be a UTC time such as 2026-11-25T17:00:00Z' \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --signing-time yesterday
check "missing hostname" 2 '--hostname is required' "$DSQL_CLI" $gen --region us-east-1
check "option without value" 2 '--region needs a value' "$DSQL_CLI" $gen --hostname h --region
check "unknown option" 2 "unknown option '--host'" "$DSQL_CLI" $gen --host h
check "URL instead of host" 1 "is not a host name" "$DSQL_CLI" $gen --hostname https://a.dsql.us-east-1.on.aws
check "host with a port" 1 "carries a port; give the host name alone" "$DSQL_CLI" $gen \
    --hostname a.dsql.us-east-1.on.aws:5432
check "help" 0 '^usage: dsql generate-db-connect-auth-token --hostname HOST' "$DSQL_CLI" $gen --help
check "admin help" 0 'Action=DbConnectAdmin, for the user admin' \
    "$DSQL_CLI" generate-db-connect-admin-auth-token --help

# --profile picks a profile of the shared files (and wins over the environment)
cat >"$tmp/credentials" <<'INI'
[default]
aws_access_key_id = AKDEFAULT
aws_secret_access_key = SKDEFAULT
[prod]
aws_access_key_id = AKPROD
aws_secret_access_key = SKPROD
INI
printf '[profile prod]\nregion = sa-east-1\n' >"$tmp/config"
check "--profile" 0 'X-Amz-Credential=AKPROD%2F[0-9]{8}%2Fsa-east-1%2Fdsql' \
    env AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_CONFIG_FILE="$tmp/config" \
    "$DSQL_CLI" $gen --hostname db.example.com --profile prod
check "missing profile" 1 "profile 'nosuch' not found in $tmp/credentials or $tmp/config" \
    env AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_CONFIG_FILE="$tmp/config" \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --profile nosuch
check "AWS_PROFILE" 0 'X-Amz-Credential=AKPROD%2F' \
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=prod \
    AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws
check "no credentials at all" 1 'no AWS credentials found: .*disabled by AWS_EC2_METADATA_DISABLED' \
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws

# Secrets never reach the terminal, on any failure path.
secret_check() { # name, secret, command...
    local name=$1 secret=$2
    shift 2
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        bad "$name: succeeded, should fail"
    elif grep -qF -- "$secret" <<<"$out"; then
        bad "$name: the secret is in the output:" "$out"
    elif [ -z "$out" ]; then
        bad "$name: no error message"
    else
        ok "$name (no secret in: $(head -c 120 <<<"$out"))"
    fi
}
S1=SECRETKEY-7d1f0c9e S2=SESSIONTOKEN-a94b2e S3=PROCSECRET-51c3aa
secret_check "half key pair" "$S1" env -u AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S1 \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws
secret_check "bad expiry with a session token" "$S2" env AWS_SECRET_ACCESS_KEY=$S1 \
    AWS_SESSION_TOKEN=$S2 "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --expires-in -5
secret_check "bad host with secrets" "$S1" env AWS_SECRET_ACCESS_KEY=$S1 AWS_SESSION_TOKEN=$S2 \
    "$DSQL_CLI" $gen --hostname 'a b' --region us-east-1
secret_check "no region with secrets" "$S2" env AWS_SECRET_ACCESS_KEY=$S1 AWS_SESSION_TOKEN=$S2 \
    "$DSQL_CLI" $gen --hostname db.example.com
secret_check "expired environment credentials" "$S1" env AWS_SECRET_ACCESS_KEY=$S1 \
    AWS_SESSION_TOKEN=$S2 AWS_CREDENTIAL_EXPIRATION=2020-01-01T00:00:00Z \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws
cat >"$tmp/proc.sh" <<SH
#!/bin/sh
echo '{"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "$S3", "SessionToken": "$S2"}'
exit 4
SH
chmod +x "$tmp/proc.sh"
printf '[profile proc]\ncredential_process = %s\n' "$tmp/proc.sh" >"$tmp/config-proc"
secret_check "credential_process that fails after printing secrets" "$S3" \
    env AWS_CONFIG_FILE="$tmp/config-proc" "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --profile proc
sed -i 's/exit 4/exit 0/; s/"Version": 1/"Version": 9/' "$tmp/proc.sh"
secret_check "credential_process with a bad version" "$S3" \
    env AWS_CONFIG_FILE="$tmp/config-proc" "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --profile proc
printf '[bad]\naws_access_key_id = AK\naws_secret_access_key %s\n' "$S1" >"$tmp/credentials-bad"
secret_check "malformed credentials file" "$S1" env AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials-bad" \
    "$DSQL_CLI" $gen --hostname a.dsql.us-east-1.on.aws --profile bad
exit $fail
