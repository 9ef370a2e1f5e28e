"""AWS's catalogue (cfn-lint's data) lists what the stacks use, and refuses what AWS does not offer.

When a pin bump of cfn-lint drops or renames something a stack relies on, these fail first.
"""

import pytest

from ha_stack import catalogue


def test_regions_are_the_standard_partition_only():
    regions = catalogue.regions()
    assert {"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"} <= set(regions)
    assert not [r for r in regions if r.startswith(("cn-", "us-gov-", "us-iso", "eu-isoe", "eusc-"))]
    assert "us-east-7" not in regions


@pytest.mark.parametrize("instance_type", ["t3.micro", "t3.medium", "t4g.small", "m7g.large", "c7gn.xlarge"])
def test_the_instance_types_the_stacks_and_examples_use_are_offered_in_us_east_1(instance_type):
    assert instance_type in catalogue.instance_types("us-east-1")


def test_instance_types_that_never_shipped_are_not_listed():
    assert not {"t3.mega", "m9.large", "t2.metal"} & set(catalogue.instance_types())


def test_db_classes_are_per_engine():
    assert "db.t4g.micro" in catalogue.db_instance_classes("postgres", "us-east-1")
    assert "db.r6g.large" in catalogue.db_instance_classes("aurora-postgresql", "us-east-1")
    assert "db.t4g.micro" not in catalogue.db_instance_classes("aurora-postgresql")


def test_cache_node_types_and_versions():
    assert {"cache.t4g.micro", "cache.r7g.large"} <= set(catalogue.cache_node_types("us-east-1"))
    assert "7.1" in catalogue.cache_engine_versions("redis")
    assert "8.0" in catalogue.cache_engine_versions("valkey")
    assert "7.1" not in catalogue.cache_engine_versions("valkey")


def test_postgres_majors_include_the_stacks_and_not_ones_that_do_not_exist():
    for engine in ("postgres", "aurora-postgresql"):
        majors = catalogue.rds_major_versions(engine)
        assert "16" in majors
        assert "99" not in majors
