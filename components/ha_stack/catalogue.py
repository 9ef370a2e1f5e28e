"""What AWS offers, from a well-kept source instead of hand-written patterns: regions, EC2 instance types, RDS
instance classes, ElastiCache node types and engine versions.

The source is the data that cfn-lint (AWS's own CloudFormation linter, github.com/aws-cloudformation/cfn-lint)
ships and regenerates every week from AWS's pricing and service APIs: per region, the instance types EC2 offers,
the classes RDS offers per engine, the node types ElastiCache offers; and the engine versions RDS and ElastiCache
accept. Only its JSON files are read (located through the installed distribution, cfn-lint itself is never
imported). Refresh: bump the cfn-lint pin in constraints.txt (and components/pyproject.toml's floor); the tests in
tests/test_catalogue.py say what the stacks rely on being listed.

AWS's names that are not listed here do not exist for AWS (a typo, a family or size that never shipped), or are
newer than the pinned data: the line says so, so a user with a brand-new type knows to refresh.
"""

import json
import re
from functools import cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

SOURCE = "cfn-lint's AWS catalogue"
"""How an error line names where a list comes from."""
STANDARD_PARTITION = r"(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+"
"""Region names of the standard `aws` partition (botocore's endpoints.json regionRegex): not China, GovCloud, the
ISO or European Sovereign partitions, whose ARNs, endpoints and CloudFront/ACM rules differ."""


def _extension(resource: str, name: str) -> Any:
    """One JSON file of cfn-lint's schema extensions, e.g. ("aws_ec2_instance", "instancetype_enum")."""
    path = f"cfnlint/data/schemas/extensions/{resource}/{name}.json"
    return json.loads(Path(str(distribution("cfn-lint").locate_file(path))).read_text(encoding="utf-8"))


@cache
def regions() -> tuple[str, ...]:
    """The standard partition's regions (each has a provider schema in the catalogue)."""
    files = distribution("cfn-lint").files or []
    names = {f.stem for f in files if f.parent.as_posix().endswith("cfnlint/data/schemas/providers")}
    return tuple(sorted(n for n in names if re.fullmatch(STANDARD_PARTITION, n)))


def _per_region_enum(document: dict[str, Any], region: str | None) -> tuple[str, ...]:
    """The enum of one region (None: of any region) in a cfn-lint file keyed by region."""
    wanted = [region] if region else [name for name, entry in document.items() if isinstance(entry, dict)]
    return tuple(sorted({value for name in wanted for value in document.get(name, {}).get("enum", ())}))


@cache
def instance_types(region: str | None = None) -> tuple[str, ...]:
    """EC2 instance types offered in a region (None: in any region)."""
    return _per_region_enum(_extension("aws_ec2_instance", "instancetype_enum"), region)


def _engine_conditions(document: dict[str, Any], engine: str, field: str) -> set[str]:
    """The enum of `field` over every condition of a cfn-lint allOf document that names this engine."""
    values: set[str] = set()
    for condition in document.get("allOf", []):
        if condition["if"]["properties"].get("Engine", {}).get("const") == engine:
            values.update(condition["then"]["properties"][field].get("enum", ()))
    return values


@cache
def db_instance_classes(engine: str, region: str | None = None) -> tuple[str, ...]:
    """RDS instance classes offered for an engine in a region (None: in any region)."""
    per_region = _extension("aws_rds_dbinstance", "dbinstanceclass_enum")
    wanted = [region] if region else [name for name, entry in per_region.items() if isinstance(entry, dict)]
    classes: set[str] = set()
    for name in wanted:
        classes |= _engine_conditions(per_region.get(name, {}), engine, "DBInstanceClass")
    return tuple(sorted(classes))


@cache
def cache_node_types(region: str | None = None) -> tuple[str, ...]:
    """ElastiCache node types offered in a region (None: in any region)."""
    return _per_region_enum(_extension("aws_elasticache_cachecluster", "cachenodetype_enum"), region)


@cache
def rds_engine_versions(engine: str) -> tuple[str, ...]:
    """Engine versions RDS accepts for an engine (instance and cluster lists together), e.g. "16.4", "17"."""
    versions = _engine_conditions(_extension("aws_rds_dbinstance", "engine_version"), engine, "EngineVersion")
    versions |= _engine_conditions(_extension("aws_rds_dbcluster", "engine_version"), engine, "EngineVersion")
    return tuple(sorted(versions, key=_version_key))


@cache
def rds_major_versions(engine: str) -> tuple[str, ...]:
    """Major versions (10 and later: the part before the first dot) that have a current release for the engine."""
    majors = {v.split(".")[0] for v in rds_engine_versions(engine) if re.fullmatch(r"\d{2,}(\.\d+)*", v)}
    return tuple(sorted(majors, key=int))


@cache
def cache_engine_versions(engine: str) -> tuple[str, ...]:
    """Engine versions ElastiCache accepts for an engine (redis, valkey, memcached), e.g. "7.1"."""
    document = _extension("aws_elasticache_cachecluster", "engine_version")
    return tuple(sorted(_engine_conditions(document, engine, "EngineVersion"), key=_version_key))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))
