"""Plugin entry point: hosts the ha-stack components for other Pulumi languages.

Pulumi infers the schema from the components' type annotations and docstrings.
"""

from pulumi.provider.experimental import component_provider_host

import ha_stack

if __name__ == "__main__":
    component_provider_host(name="ha-stack", components=[getattr(ha_stack, n) for n in ha_stack.COMPONENTS])
