"""The preview's resilience report: expected recovery time and data loss per disruption, derived from the stack.

Shaped like an AWS Resilience Hub assessment (an RTO and an RPO per disruption type: application, infrastructure,
Availability Zone, Region), but computed offline from what the program declares: the target group's health check,
the Auto Scaling group's sizing and grace period, the database engine and its standby or readers, the cache's
replicas, the drills and zonal autoshift. Every estimate names what it is made of and the assumptions behind it;
where the lab measured a figure it is shown beside the estimate.

AWS figures used (quoted from the documentation):
- Aurora with a replica: "service is typically restored in less than 60 seconds, and often less than 30 seconds";
  without one the primary is recreated, which "typically takes less than 10 minutes" (Aurora user guide, "High
  availability for Amazon Aurora").
- RDS Multi-AZ: "Failover times are typically 60-120 seconds" (RDS user guide, "Failing over a Multi-AZ DB
  instance for Amazon RDS").
- ElastiCache replication: "Due to replication latency, some data may be lost if it is the primary read/write node
  that fails" (ElastiCache user guide, "High availability using replication groups").
- Aurora Global Database: "For Aurora Global Database, RTO can be in the order of minutes"; "RPO is typically
  measured in seconds" (Aurora user guide, "Using switchover or failover in Amazon Aurora Global Database").
- S3 RTC "replicates most objects that you upload to Amazon S3 in seconds, and 99.99 percent of those objects within
  15 minutes" (S3 user guide, "Meeting compliance requirements using S3 Replication Time Control").
"""

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stack.ha_summary import split_regions, standby_facts
from stack.mock_cloud import RecordedResource, Recording
from stack.settings import Settings
from stack.static_stability import AzLossSizing, survivors

LAB_REPORT = Path(__file__).resolve().parent.parent / "docs" / "resilience.md"
"""The lab drills' figures (`make drill` writes it): one table row per drill."""
LAB_DRILLS = {
    "one instance lost": "instance-crash",
    "one AZ lost": "zone-loss",
    "database primary lost": "db-primary-kill",
    "cache primary lost": "redis-primary-kill",
}
"""Which lab drill measured each disruption."""
MEASURED_BOOT_SECONDS = 54.0
"""Worst measured user-data-to-first-healthy time of an instance (docs/boot.md, five runs of tests/test_boot.py)."""
AURORA_FAILOVER_SECONDS = 60
RDS_MULTI_AZ_FAILOVER_SECONDS = 120
AURORA_RECREATE_SECONDS = 600
SINGLE_AZ_RDS_RECOVERY_SECONDS = 600
"""No standby: the instance must be restarted or restored; AWS gives no failover figure, so this is an assumption."""
PITR_RPO_SECONDS = 300
"""Point-in-time restore reaches the latest restorable time, normally within the last five minutes."""
GLOBAL_PROMOTION_SECONDS = 300
"""AWS gives the global database's failover only as "in the order of minutes": taken as 5 (an assumption, said so)."""
GLOBAL_RPO_SECONDS = 1
"""AWS: RPO "typically measured in seconds"; the standby's alarm says when it is more (its threshold is shown)."""
RTC_SECONDS = 15 * 60
"""S3 RTC: 99.99 percent of objects within 15 minutes."""
ALIAS_TTL_SECONDS = 60
"""An alias record to a load balancer answers with the load balancer's own record TTL, 60 seconds (an assumption
from Route 53's "Choosing between alias and non-alias records"; alias records take no TTL of their own)."""


@dataclass
class Disruption:
    """One row of the report."""

    disruption: str
    category: str
    """Resilience Hub's disruption type: Application, Infrastructure, AZ or Region."""
    rto_seconds: float | None
    """Estimated time until the service answers normally again (None: not recoverable by this stack alone)."""
    rpo_seconds: float | None
    """Estimated window of acknowledged writes that can be lost (None: everything since the last copy elsewhere)."""
    basis: str
    measured: str = ""
    assumptions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Web:
    interval: float
    unhealthy: int
    healthy: int
    timeout: float
    grace: float
    min_size: int
    zones: int

    @property
    def detect(self) -> float:
        """Seconds until the load balancer stops sending requests to a dead target."""
        return self.interval * self.unhealthy

    @property
    def replace(self) -> float:
        """Seconds from the failure to a replacement in service: detection, boot, then healthy checks."""
        return self.detect + MEASURED_BOOT_SECONDS + self.interval * self.healthy


def _web(rec: Recording, st: Settings) -> _Web:
    (tg,) = rec.of_type("aws:lb/targetGroup:TargetGroup")
    (group,) = rec.of_type("aws:autoscaling/group:Group")
    hc = tg.inputs["healthCheck"]
    return _Web(
        interval=float(hc["interval"]),
        unhealthy=int(hc["unhealthyThreshold"]),
        healthy=int(hc["healthyThreshold"]),
        timeout=float(hc["timeout"]),
        grace=float(group.inputs["healthCheckGracePeriod"]),
        min_size=int(group.inputs["minSize"]),
        zones=st.az_count,
    )


def _database_failover(st: Settings) -> tuple[float, float, str]:
    """RTO, RPO and basis of losing the database primary."""
    db = st.database
    if db["engine"] == "aurora-postgresql" and db["reader_count"] > 0:
        return AURORA_FAILOVER_SECONDS, 0, "Aurora promotes a reader; storage is shared across 3 AZs, nothing lost"
    if db["engine"] == "aurora-postgresql":
        return AURORA_RECREATE_SECONDS, 0, "no reader: Aurora recreates the writer; storage is shared, nothing lost"
    if db["multi_az"]:
        return RDS_MULTI_AZ_FAILOVER_SECONDS, 0, "RDS fails over to its synchronous standby in another AZ"
    return SINGLE_AZ_RDS_RECOVERY_SECONDS, PITR_RPO_SECONDS, "single-AZ RDS: restart or point-in-time restore"


def lab_figures(path: Path = LAB_REPORT) -> dict[str, str]:
    """Lab drill -> "N s with errors (errors end at T s), writes back after W s, L of A acknowledged orders lost".

    Read from the figures table of docs/resilience.md; a drill missing from it (or no file) has no figure.
    """
    if not path.exists():
        return {}
    figures: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\| `([a-z-]+)` \|", line)
        if not match:
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        acked, lost = (c.strip("* ") for c in cells[6].split("/"))
        figures[match.group(1)] = (
            f"lab drill `{match.group(1)}`: {cells[3]} s with errors (last error {cells[4]} s after the fault), "
            f"writes back after {cells[5]} s, {lost} of {acked} acknowledged orders lost (docs/resilience.md)"
        )
    return figures


def report(rec: Recording, st: Settings) -> list[Disruption]:
    """Every disruption the issue names: instance, AZ, database primary, cache primary, Region.

    A DR stack's recording holds both regions; the in-region rows read the stack's own region only."""
    whole = rec
    rec, standbys = split_regions(whole)
    web = _web(rec, st)
    db_rto, db_rpo, db_basis = _database_failover(st)
    cache_failover = st.cache["automatic_failover"] and st.cache["node_count"] > 1
    db = st.database
    has_standby = db["reader_count"] > 0 or (db["engine"] == "postgres" and db["multi_az"])
    rows = [_instance(web), _az(rec, st, web, (db_rto, db_rpo))]
    rows.append(
        Disruption(
            "database primary lost",
            "Infrastructure",
            db_rto,
            db_rpo,
            db_basis,
            assumptions=[
                "the service retries failover errors within its request budget and reconnects through the writer "
                "endpoint, whose DNS follows the promotion"
            ],
        )
    )
    rows.append(_cache(st, cache_failover))
    figures = lab_figures()
    for row in rows:
        measured = figures.get(LAB_DRILLS.get(row.disruption, ""))
        if measured and (row.disruption != "database primary lost" or has_standby):
            row.measured = "; ".join(m for m in (row.measured, measured) if m)
    if standbys:
        rows += [_region_loss(whole, region, standby, web) for region, standby in sorted(standbys.items())]
        return rows
    rows.append(
        Disruption(
            "Region lost",
            "Region",
            None,
            None,
            "no second region (disaster recovery not configured): rebuild elsewhere from backups copied out of the "
            "region, if any",
            assumptions=["automated backups and snapshots stay in the stack's region"],
        )
    )
    return rows


def _primary_health_check(rec: Recording) -> RecordedResource | None:
    """The health check the PRIMARY failover record carries: its failures decide when DNS moves the writes."""
    checks = {c.id: c for c in rec.of_type("aws:route53/healthCheck:HealthCheck")}
    for record in rec.of_type("aws:route53/record:Record"):
        policies = record.inputs.get("failoverRoutingPolicies") or []
        if policies and policies[0]["type"] == "PRIMARY" and record.inputs.get("healthCheckId") in checks:
            return checks[record.inputs["healthCheckId"]]
    return None


def _rpo_alarm_seconds(standby: Recording) -> float | None:
    """The standby's RPO-lag alarm threshold, seconds (None: not watched)."""
    for alarm in standby.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        if alarm.inputs.get("metricName") == "AuroraGlobalDBRPOLag":
            return float(alarm.inputs["threshold"]) / 1000
    return None


def _region_loss(rec: Recording, region: str, standby: Recording, web: _Web) -> Disruption:
    """Recovery in the standby region: promotion + DNS detection and TTL (+ the fleet's boot for a pilot light)."""
    f = standby_facts(rec, region, standby)
    check = _primary_health_check(rec)
    detect = (
        float(check.inputs.get("failureThreshold", 3)) * float(check.inputs.get("requestInterval", 30))
        if check
        else None
    )
    has_global = f.global_database.startswith("Aurora global database")
    boot = web.replace if f.approach == "pilot light" else 0.0
    parts = [f'promotion ~{GLOBAL_PROMOTION_SECONDS} s (AWS: "in the order of minutes")']
    rto: float | None = GLOBAL_PROMOTION_SECONDS + ALIAS_TTL_SECONDS + boot
    if detect is not None:
        parts.append(f"the primary's health check fails after {detect:g} s")
        rto = (rto or 0) + detect
    if detect is None:
        parts.append("no health-checked failover record: nothing moves the writes' DNS (counted as the TTL only)")
    parts.append(f"DNS answers the standby within the alias TTL (~{ALIAS_TTL_SECONDS} s)")
    if boot:
        parts.append(f"pilot light: the fleet boots and passes its checks (~{boot:g} s, docs/boot.md)")
    rpo_alarm = _rpo_alarm_seconds(standby)
    if has_global:
        rpo: float | None = GLOBAL_RPO_SECONDS
        data = (
            'data lost: commits not yet replicated (global database RPO "typically seconds"'
            + (f"; the standby alarms above {rpo_alarm:g} s" if rpo_alarm else "; not alarmed")
            + ")"
        )
    else:
        rto, rpo = None, None
        data = f.global_database + ": the restore's duration and the backups' lag are not estimated here"
    static = (
        f"static assets: S3 replication, RTC bounds the replica at {RTC_SECONDS} s"
        if f.replication
        else ("static assets: not replicated")
    )
    return Disruption(
        f"Region lost ({region} takes over)",
        "Region",
        rto,
        rpo,
        f"{f.approach} in {region}: " + " + ".join(parts) + f"; {data}; {static}; reads keep being served by the "
        "CloudFront origin group's standby origin meanwhile",
        assumptions=[
            "an operator runs `python -m stack.failover <stack> --to " + region + "` when the alarms show the region "
            "lost; the decision time is not counted",
            "cold after the failover: " + ("; ".join(f.cold) or "nothing"),
            "kept running to be ready: " + ("; ".join(f.warm_inventory) or "nothing") + " (prices: AWS's price list "
            "for the region; not in this repository)",
        ],
    )


def _instance(web: _Web) -> Disruption:
    return Disruption(
        "one instance lost",
        "Application",
        web.detect,
        0,
        f"ALB stops routing after {web.unhealthy} failed checks x {web.interval:g} s; the other instances serve; the "
        f"group's replacement is in service after ~{web.replace:g} s (detection + {MEASURED_BOOT_SECONDS:g} s boot + "
        f"{web.healthy} healthy checks)",
        measured=f"boot to healthy: {MEASURED_BOOT_SECONDS:g} s worst of 5 runs (docs/boot.md)",
        assumptions=[
            "instances hold no state: every write is committed to the database before it is acknowledged",
            f"about 1/{web.min_size} of requests fail until the target is marked unhealthy",
        ],
    )


def _az(rec: Recording, st: Settings, web: _Web, database: tuple[float, float]) -> Disruption:
    db_rto, db_rpo = database
    cache_failover = st.cache["automatic_failover"] and st.cache["node_count"] > 1
    left = survivors(web.min_size, web.zones)
    stable = ""
    peak, target = st.keys.get("peak_requests_per_second"), st.fleet.get("requests_per_target")
    if peak and target:
        sizing = AzLossSizing(web.zones, web.min_size, peak, target)
        stable = f"; {left} instances left carry {math.floor(left * sizing.per_instance_rps)} rps at the target " + (
            f"(peak {peak:g}: statically stable)" if sizing.stable else "(below the peak)"
        )
    autoshift = rec.of_type("aws:arczonalshift/zonalAutoshiftConfiguration:ZonalAutoshiftConfiguration")
    shift = (
        "zonal autoshift on: AWS moves traffic off the AZ"
        if any(c.inputs.get("zonalAutoshiftStatus") == "ENABLED" for c in autoshift)
        else "no autoshift: an operator starts a zonal shift"
    )
    return Disruption(
        "one AZ lost",
        "AZ",
        max(web.detect, db_rto),
        db_rpo,
        f"worst of: instances in the AZ leave the ALB after {web.detect:g} s{stable}; the database primary, if there, "
        f"fails over in ~{db_rto:g} s; the cache primary, if there, "
        + ("fails over to a replica" if cache_failover else "is lost (single node: reads go to the database)")
        + f"; {shift}",
        assumptions=[
            "the lost AZ holds the database writer and the cache primary (the worst case)",
            "subnets, NAT gateways and nodes are per AZ, so the other AZs keep their egress",
        ],
    )


def _cache(st: Settings, cache_failover: bool) -> Disruption:
    return Disruption(
        "cache primary lost",
        "Infrastructure",
        0,
        0,
        "cache-aside: reads fall through to the database, so the service keeps answering; "
        + ("a replica is promoted for the cache itself" if cache_failover else "the single node must be replaced"),
        assumptions=[
            "the cache holds no data of record: entries lost with the primary (replication is asynchronous) are "
            "re-read from the database, so the business RPO is 0"
        ],
    )


def as_json(rows: list[Disruption]) -> list[dict[str, Any]]:
    """The report for the preview's --json."""
    return [asdict(r) for r in rows]


def render(rows: list[dict[str, Any]]) -> list[str]:
    """The report for the human-readable preview."""

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:g} s"

    lines = ["Resilience (estimated RTO / RPO per disruption, from this configuration)"]
    for r in rows:
        lines.append(
            f"  {r['disruption']} [{r['category']}]: RTO {seconds(r['rto_seconds'])}, RPO {seconds(r['rpo_seconds'])}"
        )
        lines.append(f"    - {r['basis']}")
        if r["measured"]:
            lines.append(f"    - measured: {r['measured']}")
        lines += [f"    - assumes: {a}" for a in r["assumptions"]]
    return lines
