"""route53-bed.py <port> <state-dir> <bind-port> <tsig-sha256-secret> — the bed's Route 53.

moto (the AWS API emulator, from PyPI) is the API under test: it serves Route 53 and IAM on
127.0.0.1:<port>, checks every request's SigV4 signature and the IAM user's policy, and keeps the
hosted zone. Nothing here changes how moto answers but one bug fix in its signature check
(below).

Test plumbing, not Route 53: Pebble and certsmith's own check read DNS, not moto, so every TXT
change moto accepts is mirrored into the bed's BIND (example.test, by a TSIG-signed RFC 2136
update) after moto applied it. cert-manager writes one multivalue set per value, so a set's
values are added on CREATE/UPSERT and removed on DELETE.

IAM: certsmith-dns (route53:*) and certsmith-assumer (sts:AssumeRole only), and the role
certsmith-dns-role (route53:*) the latter may assume. Writes <state-dir>/env: ROUTE53_PORT,
ROUTE53_ZONE_ID, ROUTE53_ACCESS_KEY_ID, ROUTE53_SECRET_ACCESS_KEY (certsmith-dns's key),
ROUTE53_ROLE_ARN, ROUTE53_ASSUMER_KEY_ID, ROUTE53_ASSUMER_SECRET.
"""

import copy
import os
import sys
import time

port, state, bind_port, tsig_secret = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

# Eight requests go unchecked (the IAM users, policies, keys and the role below: there is no one
# to sign them yet); every request after them must be signed by a known key and allowed by its
# policy.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "8"

import boto3  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402
import dns.update  # noqa: E402
from moto.iam.access_control import IAMRequestBase  # noqa: E402
from moto.route53.models import Route53Backend  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

# A bug in moto 5.2.5's signature check, not a change to Route 53's answers: for a GET, moto
# hashes the parsed query string as if it were the body, so every signed GET with a query
# (ListHostedZonesByName; boto3's as well as certsmith's) fails with SignatureDoesNotMatch. AWS
# hashes a GET's empty body; so does the check with this.
checked = IAMRequestBase._create_aws_request


def _create_aws_request(self):
    if self._method in ("GET", "HEAD", "DELETE"):
        self._data, self._body = {}, b""
    return checked(self)


IAMRequestBase._create_aws_request = _create_aws_request

KEYRING = dns.tsigkeyring.from_text({"certsmith-sha256": tsig_secret})
applied = Route53Backend.change_resource_record_sets


def mirror(change_list):
    """The TXT changes of a batch moto accepted, made in BIND too."""
    update = dns.update.UpdateMessage(
        "example.test.", keyring=KEYRING, keyalgorithm=dns.tsig.HMAC_SHA256
    )
    touched = False
    for change in change_list:
        rrset = change["ResourceRecordSet"]
        if rrset.get("Type") != "TXT":
            continue
        name = rrset["Name"] if rrset["Name"].endswith(".") else rrset["Name"] + "."
        for record in rrset.get("ResourceRecords", []):
            value = record["Value"] if isinstance(record, dict) else record
            if change["Action"] == "DELETE":
                update.delete(name, "TXT", value)
            else:
                update.add(name, int(rrset.get("TTL", 10)), "TXT", value)
            touched = True
    if touched:
        answer = dns.query.tcp(update, "127.0.0.1", port=bind_port, timeout=5)
        if answer.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"BIND refused the mirror: {dns.rcode.to_text(answer.rcode())}")


def change_resource_record_sets(self, zoneid, change_list):
    before = copy.deepcopy(change_list)  # moto rewrites the list it is given
    applied(self, zoneid, change_list)
    mirror(before)


Route53Backend.change_resource_record_sets = change_resource_record_sets

server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(port), verbose=False)
server.start()
url = f"http://127.0.0.1:{port}"
unsigned = dict(endpoint_url=url, region_name="us-east-1",
                aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam = boto3.client("iam", **unsigned)


def allow(action):
    return ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            f'"Action": ["{action}"], "Resource": "*"}}]}}')


def user(name, action):
    """An IAM user allowed `action`, and its access key."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=allow(action))
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


# certsmith-dns may change Route 53; certsmith-assumer may only assume the role that may.
_, key = user("certsmith-dns", "route53:*")
assumer_arn, assumer = user("certsmith-assumer", "sts:AssumeRole")
trust = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
         f'"sts:AssumeRole", "Principal": {{"AWS": "{assumer_arn}"}}}}]}}')
role = iam.create_role(RoleName="certsmith-dns-role", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="certsmith-dns-role", PolicyName="p", PolicyDocument=allow("route53:*"))
signed = dict(unsigned, aws_access_key_id=key["AccessKeyId"],
              aws_secret_access_key=key["SecretAccessKey"])
zone = boto3.client("route53", **signed).create_hosted_zone(
    Name="example.test.", CallerReference=str(time.time())
)["HostedZone"]["Id"].removeprefix("/hostedzone/")

with open(os.path.join(state, "env.tmp"), "w") as f:
    f.write(f"export ROUTE53_PORT={port}\nexport ROUTE53_ZONE_ID={zone}\n")
    f.write(f"export ROUTE53_ACCESS_KEY_ID={key['AccessKeyId']}\n")
    f.write(f"export ROUTE53_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
    f.write(f"export ROUTE53_ROLE_ARN={role['Role']['Arn']}\n")
    f.write(f"export ROUTE53_ASSUMER_KEY_ID={assumer['AccessKeyId']}\n")
    f.write(f"export ROUTE53_ASSUMER_SECRET={assumer['SecretAccessKey']}\n")
os.rename(os.path.join(state, "env.tmp"), os.path.join(state, "env"))
print(f"moto serving Route 53 at {url}, zone {zone}", flush=True)
while True:
    time.sleep(3600)
