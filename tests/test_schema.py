"""Other Pulumi languages can consume the package: Pulumi's own schema inference reads it correctly."""

from typing import Any

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

import ha_stack
from ha_stack import network as network_module


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = Analyzer("ha-stack").analyze([getattr(ha_stack, n) for n in ha_stack.COMPONENTS])
    spec = generate_schema(
        "ha-stack",
        "0.1.0",
        None,
        result["component_definitions"],
        result["type_definitions"],
        sorted(result["dependencies"], key=lambda d: d.name),
    )
    return spec.to_json()


def test_ha_network_is_a_component_with_the_documented_token(schema):
    network = schema["resources"]["ha-stack:index:HaNetwork"]
    assert network["isComponent"] is True
    assert "VPC across N AZs" in network["description"]


def test_inputs_are_typed_documented_and_only_the_zones_are_required(schema):
    network = schema["resources"]["ha-stack:index:HaNetwork"]
    inputs = network["inputProperties"]
    assert network["requiredInputs"] == ["availabilityZones"]
    assert inputs["availabilityZones"]["type"] == "array"
    assert inputs["availabilityZones"]["plain"] is True
    assert inputs["flowLogRetentionDays"] == {
        "type": "integer",
        "plain": True,
        "description": inputs["flowLogRetentionDays"]["description"],
    }
    # The docstring describes the option; its default is declared once, in the Spec, and the reference states it.
    assert inputs["flowLogRetentionDays"]["description"].startswith("Days to keep flow logs")
    assert network_module.ARGS.fields["flow_log_retention_days"].default_text == "90"
    assert all(p.get("description") for p in inputs.values())


def test_nat_mode_is_a_schema_enum(schema):
    ref = schema["resources"]["ha-stack:index:HaNetwork"]["inputProperties"]["natGateways"]["$ref"]
    enum = schema["types"][ref.removeprefix("#/types/")]
    assert sorted(v["value"] for v in enum["enum"]) == ["none", "one_per_az", "single"]


def test_outputs_are_what_a_consumer_wires_next(schema):
    outputs = schema["resources"]["ha-stack:index:HaNetwork"]["properties"]
    for key in (
        "vpcId",
        "vpcCidrBlock",
        "availabilityZones",
        "publicSubnetIds",
        "appSubnetIds",
        "dataSubnetIds",
        "natGatewayIds",
        "natPublicIps",
        "publicRouteTableId",
        "appRouteTableIds",
        "dataRouteTableIds",
    ):
        assert outputs[key].get("description"), key
    assert outputs["appSubnetIds"]["type"] == "array"
    assert outputs["appSubnetIds"]["items"]["type"] == "string"


def test_web_tier_requires_only_its_wiring_and_documents_every_input(schema):
    web = schema["resources"]["ha-stack:index:HaWebTier"]
    assert sorted(web["requiredInputs"]) == [
        "appDirectory",
        "runtimeConfigPath",
        "vpcId",
    ]
    assert all(p.get("description") for p in web["inputProperties"].values())
    assert "albArnSuffix" in web["properties"]


@pytest.mark.parametrize("component", ha_stack.COMPONENTS)
def test_every_component_is_in_the_schema_with_documented_inputs_and_outputs(schema, component):
    resource = schema["resources"][f"ha-stack:index:{component}"]
    assert resource["isComponent"] is True
    assert resource["description"]
    undocumented = [
        k for k, v in {**resource["inputProperties"], **resource["properties"]}.items() if not v.get("description")
    ]
    assert undocumented == []


def test_mode_choices_are_schema_enums(schema):
    enums = {name.split(":")[-1]: {v["value"] for v in t["enum"]} for name, t in schema["types"].items() if "enum" in t}
    assert enums["DatabaseEngine"] == {"aurora-postgresql", "postgres"}
    assert enums["CacheEngine"] == {"redis", "valkey"}
    assert enums["PriceClass"] == {"PriceClass_100", "PriceClass_200", "PriceClass_All"}
