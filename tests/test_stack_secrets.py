"""Across the whole stack: no credential or generated secret is ever a plain-text resource input."""

import re
from collections.abc import Iterator
from typing import Any

import pytest


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


@pytest.mark.parametrize(
    ("stack", "secrets", "carriers"),
    [
        # The origin secret, the cache's AUTH token, the database app role's password. The origin secret in the
        # listener rule and CloudFront's origins; the AUTH token in the group and secret version; the app role's
        # password in its secret version's JSON.
        ("dev", 3, 5),
        # prod is a dr pair: also the global primary's master password (AWS does not manage it for global members:
        # in the cluster and its secret) and the standby's AUTH token (group, secret); the origin secret also in the
        # standby's listener rule and CloudFront's standby and write origins.
        ("prod_pair", 5, 12),
    ],
)
def test_no_password_or_secret_value_is_a_plain_input_anywhere(stack, secrets, carriers, request):
    rec = request.getfixturevalue(stack)
    generated = {str(r.outputs["result"]["secret"]) for r in rec.of_type("random:index/randomPassword:RandomPassword")}
    assert len(generated) == secrets
    carried = 0
    for resource in rec.resources:
        for path, value in _walk(resource.inputs):
            secret_input = ".secret" in path  # {"secret": ...}: Pulumi encrypts it in state
            if re.search(r"(?i)password|authtoken", path) and not path.lower().endswith("managemasteruserpassword"):
                assert secret_input, f"{resource.name}{path} is a plain-text credential input"
            if isinstance(value, str) and any(secret in value for secret in generated):  # also inside JSON
                assert secret_input, f"{resource.name}{path} holds a generated secret in plain text"
                carried += 1
    assert carried == carriers
