"""Time between funnel steps, kept as counts in logarithmic buckets so that medians add up.

A median cannot be summed across days or channels, but a histogram can: each rollup row keeps,
per pair of steps, how many jobs took a time that falls in each bucket. Bucket 0 holds what took
under a second; bucket ``i`` (1 and up) holds ``[GROWTH**(i-1), GROWTH**i)`` seconds, each 1.52
times wider than the one before, and the last bucket is open-ended (from about 84 days). The
median is read from the summed histogram, interpolated geometrically inside its bucket, so it is
exact to within the width of one bucket and usually far closer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BUCKETS = 40
GROWTH = 2**0.6
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(seconds: float) -> int:
    """The bucket a duration falls in; negative durations (clock skew) count as zero."""
    if seconds < 1:
        return 0
    return min(BUCKETS - 1, 1 + int(math.log(seconds) / _LOG_GROWTH))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The ``[low, high)`` seconds of a bucket; the last one's high is infinity."""
    if bucket == 0:
        return 0.0, 1.0
    low = GROWTH ** (bucket - 1)
    return low, (math.inf if bucket == BUCKETS - 1 else GROWTH**bucket)


def median_seconds(counts: Sequence[int]) -> float | None:
    """The median duration of a histogram (``counts[i]`` jobs in bucket ``i``); None if empty."""
    total = sum(counts)
    if total <= 0:
        return None
    half = total / 2
    seen = 0
    for bucket, count in enumerate(counts):
        if count <= 0:
            continue
        if seen + count >= half:
            share = (half - seen) / count
            low, high = bucket_bounds(bucket)
            if bucket == 0:
                return share * high
            if math.isinf(high):
                return low
            return low * GROWTH**share
        seen += count
    return None  # pragma: no cover - the loop always reaches half of a positive total


def duration_text(seconds: float | None) -> str:
    """A duration as people read it: 45 s, 12 min, 3.5 h, 2.1 days; an en dash when unknown."""
    if seconds is None or math.isnan(seconds):
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
