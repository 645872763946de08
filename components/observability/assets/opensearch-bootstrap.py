"""Bootstraps the OpenSearch domain from inside the cluster (it is reachable only from the VPC).

Runs as a Kubernetes Job with an IRSA role that is the domain's fine-grained-access master user.
Using only the standard library it exchanges the pod's web identity token for credentials, then
signs (SigV4) and sends: the ISM policy that deletes log indices after the retention, the writer
role for Fluent Bit and its role mapping, and the admin mapping. Every call is idempotent (PUT).
Configuration comes from the environment (DOMAIN_ENDPOINT, AWS_REGION, RETENTION_DAYS, INDEX_PREFIX,
WRITER_ROLE_ARN, ADMIN_ARNS, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE).
"""
import datetime, hashlib, hmac, json, os, sys, time, urllib.parse, urllib.request
import xml.etree.ElementTree as ET

env = os.environ
REGION = env["AWS_REGION"]
HOST = env["DOMAIN_ENDPOINT"]


def credentials():
    token = open(env["AWS_WEB_IDENTITY_TOKEN_FILE"]).read().strip()
    query = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": env["AWS_ROLE_ARN"],
                                    "RoleSessionName": "opensearch-bootstrap", "WebIdentityToken": token})
    with urllib.request.urlopen(f"https://sts.{REGION}.amazonaws.com/?{query}", timeout=30) as r:
        root = ET.fromstring(r.read())
    ns = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}
    c = root.find(".//s:Credentials", ns)
    return c.find("s:AccessKeyId", ns).text, c.find("s:SecretAccessKey", ns).text, c.find("s:SessionToken", ns).text


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def request(method, path, body, creds):
    access, secret, session = creds
    payload = json.dumps(body).encode()
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"content-type": "application/json", "host": HOST, "x-amz-date": amz_date, "x-amz-security-token": session,
               "x-amz-content-sha256": hashlib.sha256(payload).hexdigest()}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, urllib.parse.quote(path), "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed,
                           headers["x-amz-content-sha256"]])
    scope = f"{day}/{REGION}/es/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = sign(sign(sign(sign(("AWS4" + secret).encode(), day), REGION), "es"), "aws4_request")
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, "
                                f"Signature={hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()}")
    req = urllib.request.Request(f"https://{HOST}{path}", data=payload, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        if e.code == 409:  # the ISM policy exists: update it below
            return 409
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode()[:300]}")


def main():
    prefix, days = env["INDEX_PREFIX"], int(env["RETENTION_DAYS"])
    policy = {"policy": {"description": f"Delete {prefix}-* indices after {days} days",
                         "default_state": "hot",
                         "states": [{"name": "hot", "actions": [], "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}]},
                                    {"name": "delete", "actions": [{"delete": {}}], "transitions": []}],
                         "ism_template": [{"index_patterns": [f"{prefix}-*"], "priority": 100}]}}
    for attempt in range(30):
        try:
            creds = credentials()
            break
        except Exception as e:  # the domain or STS may still be settling
            print(f"waiting for credentials: {e}", file=sys.stderr)
            time.sleep(10)
    else:
        raise SystemExit("no credentials")
    if request("PUT", f"/_plugins/_ism/policies/{prefix}-retention", policy, creds) == 409:
        print("ISM policy exists; leaving it (change RETENTION_DAYS by deleting it first)")
    request("PUT", "/_plugins/_security/api/roles/cli_platform_writer", {
        "cluster_permissions": ["cluster_monitor", "cluster_composite_ops", "indices:admin/template/*"],
        "index_permissions": [{"index_patterns": [f"{prefix}-*"], "allowed_actions": ["create_index", "write", "index", "indices:admin/mapping/put"]}]}, creds)
    request("PUT", "/_plugins/_security/api/rolesmapping/cli_platform_writer", {"backend_roles": [env["WRITER_ROLE_ARN"]]}, creds)
    admins = [a for a in env.get("ADMIN_ARNS", "").split(",") if a]
    request("PUT", "/_plugins/_security/api/rolesmapping/all_access", {"backend_roles": admins + [env["AWS_ROLE_ARN"]]}, creds)
    print("opensearch bootstrap complete")


main()
