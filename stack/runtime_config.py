"""The runtime-config step: the service's own settings, and its grants to the data tier's secrets.

HaDatabase and HaCache publish their endpoints under the stack's path themselves. This step adds the
app's settings and lets the web tier's instance role read exactly the data tier's secrets it is given
(the RDS-managed master secret for migrations, the app role's secret for requests, the cache's AUTH
token; re-read by the service after a rotation) and decrypt them through Secrets Manager only. It runs
after the data tier, so the instances never wait on it.
"""

from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ha_stack import options
from ha_stack.iam import secret_read_policy
from ha_stack.parameters import publish_parameters

COMPONENT = "RuntimeConfig"
DRAIN_HEADROOM_SECONDS = 5
"""The service finishes draining this long before the load balancer stops waiting for it."""


class ServiceArgs(TypedDict):
    """The service's own settings a stack file sets (`ha-stack:service`); the rest comes from the web tier."""

    product_ttl_seconds: NotRequired[int]
    """Seconds the service keeps product data in the cache (cache-aside); the seeds' product data is an hour."""


ARGS = options.Spec(
    COMPONENT, ServiceArgs, product_ttl_seconds=options.Arg(3600, options.between(1, 86400, " seconds"))
)


def check(given: object, problems: options.Problems, skip: frozenset[str] = frozenset()) -> ServiceArgs:
    """Every setting checked, every problem recorded (no rule across settings yet)."""
    return ARGS.read(given, problems, skip=skip)


@dataclass(frozen=True)
class ServiceSettings:
    """What the service reads under app/ (docs/runtime-config.md): its own settings and the web tier's."""

    environment: str
    port: int
    """The web tier's app_port."""
    deregistration_delay_seconds: int
    """The web tier's target-group deregistration delay, which the service's drain must fit in."""
    service: ServiceArgs

    @property
    def shutdown_grace_seconds(self) -> int:
        """SIGTERM drain, kept inside the target group's deregistration delay."""
        return max(1, self.deregistration_delay_seconds - DRAIN_HEADROOM_SECONDS)


@dataclass(frozen=True)
class Grants:
    """The instance role and the secrets (with their keys) it must read: every one, since the service re-reads
    each secret's AWSCURRENT and AWSPREVIOUS versions after a rotation (same GetSecretValue action)."""

    role_name: pulumi.Input[str]
    secret_arns: list[pulumi.Input[str]]
    key_arns: list[pulumi.Input[str]]


class RuntimeConfig(pulumi.ComponentResource):
    """App settings under the stack's path, and the instance role's read grant on the data tier's secrets."""

    def __init__(  # noqa: PLR0917 (the pieces of one region's runtime config)
        self,
        name: str,
        path: str,
        service: ServiceSettings,
        grants: Grants,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`opts` may carry an aws.Provider: the parameters and the grant then land in its region (dr's standby)."""
        super().__init__("ha-stack:stack:RuntimeConfig", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        publish_parameters(
            f"{name}-app",
            path=path,
            section="app",
            values={
                "port": str(service.port),
                "product_ttl_seconds": str(service.service["product_ttl_seconds"]),
                "shutdown_grace_seconds": str(service.shutdown_grace_seconds),
            },
            tags=tags,
            opts=child,
        )
        publish_parameters(
            name, path=path, section="", values={"environment": service.environment}, tags=tags, opts=child
        )
        secrets = pulumi.Output.all(*grants.secret_arns)
        keys = pulumi.Output.all(*grants.key_arns)
        aws.iam.RolePolicy(
            f"{name}-read-secrets",
            role=grants.role_name,
            policy=pulumi.Output.all(secrets, keys).apply(lambda v: secret_read_policy(list(v[0]), list(v[1]))),
            opts=child,
        )
        self.register_outputs({})
