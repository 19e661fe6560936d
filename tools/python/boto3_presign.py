"""Interop helper: boto3 (a client nobody here wrote) presigns GET and PUT URLs for the local S3
with the temporary credentials in the environment; the caller uses them with plain curl.

    python boto3_presign.py <endpoint> <region> <bucket> <key> <expires_seconds>
    -> JSON {"get": url, "put": url}
"""
import json
import sys

import boto3
from botocore.config import Config

endpoint, region, bucket, key, expires = sys.argv[1:6]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name=region,
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
print(json.dumps({
    "get": s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires)),
    "put": s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires)),
}))
