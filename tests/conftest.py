# Suite-wide test settings.
#
# Rules: hypothesis never judges speed here. The CI machine has 2 shared cores and the suite runs
# under xdist next to subprocess-heavy tests, so a per-example deadline fails at random (an example
# that takes 260 ms under load is not a bug). Tests that want fewer or more examples still say so
# with their own @settings; the deadline and the too_slow health check stay off everywhere.
from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "polyarb", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("polyarb")
