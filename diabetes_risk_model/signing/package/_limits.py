"""Safety limits applied to every archive before any member is decompressed or hashed.

They bound what a hostile zip can cost us (zip bombs, millions of members, huge names) and are checked
against the *declared* sizes in the central directory first, then again while streaming, so a lying
header cannot make the reader allocate or inflate more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one package. The defaults fit a pycaret pipeline with its report and plots."""

    max_members: int = 256
    max_member_size: int = 2 * GiB
    max_total_size: int = 0xFFFFFFFF  # no zip64: every size and offset must fit in 32 bits
    max_compression_ratio: int = 100
    ratio_floor: int = 64 * 1024  # members this small may compress better than the ratio (e.g. zeros)
    max_name_length: int = 200
    max_manifest_size: int = 1 * MiB
    max_legacy_pickle_size: int = 1 * GiB


DEFAULT_LIMITS = Limits()
