"""Static stability of the web tier: the instances left after losing one AZ carry the peak load at the scaling target.

Statically stable systems "continue to operate as normal without the need to make changes during the failure or
unavailability of dependencies" (AWS whitepaper "AWS Fault Isolation Boundaries", section "Static stability"): for
the web tier, the capacity that carries the peak after an AZ is lost is already running, because launches during a
zonal event depend on a control plane that may be impaired. "Auto Scaling maintains an equal number of instances
across enabled Availability Zones" (EC2 Auto Scaling user guide, "Auto Scaling group Availability Zone
distribution"), so with `min_size` instances over `zones` AZs the fullest AZ holds ceil(min_size / zones) of them,
and losing that AZ leaves `min_size - ceil(min_size / zones)`.

The load one instance carries at the scaling target is the request-count target itself: a target tracking policy on
ALBRequestCountPerTarget holds "the optimal average request ... count per instance during any one-minute interval"
(Auto Scaling API reference, TargetTrackingConfiguration.TargetValue), so one instance at target serves
requests_per_target / 60 requests per second.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AzLossSizing:
    """What an AZ loss leaves of the web tier, and what the peak needs."""

    zones: int
    min_size: int
    peak_requests_per_second: float
    requests_per_target_per_minute: int

    @property
    def per_instance_rps(self) -> float:
        """Requests per second one instance carries at the scaling target."""
        return self.requests_per_target_per_minute / 60

    @property
    def needed(self) -> int:
        """Instances that carry the peak at the scaling target."""
        return max(1, math.ceil(self.peak_requests_per_second / self.per_instance_rps - 1e-9))

    @property
    def survivors(self) -> int:
        """Instances left when the AZ holding the most of them is lost (balanced spread)."""
        return survivors(self.min_size, self.zones)

    @property
    def required_min_size(self) -> int:
        """The smallest min_size whose survivors carry the peak."""
        return required_min_size(self.needed, self.zones)

    @property
    def stable(self) -> bool:
        """True when the survivors of any one AZ loss carry the peak without a launch."""
        return self.survivors >= self.needed


def survivors(min_size: int, zones: int) -> int:
    """Instances left after losing the fullest of `zones` AZs over which `min_size` instances are balanced."""
    return min_size - math.ceil(min_size / zones)


def required_min_size(needed: int, zones: int) -> int:
    """The smallest group whose survivors of one AZ loss number at least `needed`.

    N-1 of N balanced AZs hold at least floor(m (N-1) / N) instances, so m = ceil(needed * N / (N-1)) is the first
    candidate; the loop only guards the rounding.
    """
    size = math.ceil(needed * zones / (zones - 1))
    while survivors(size, zones) < needed:
        size += 1
    return size
