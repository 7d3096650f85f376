"""Random values shared by the ``saas`` demo tables: deterministic for a given ``random.Random``.

``REFERENCE_TIME`` is the "now" of the generated data (no wall clock is read). ``dec`` writes
integer cents as a numeric literal, ``new_uuid`` draws a version-4 UUID from an ``rng``,
``expand`` turns ``(value, weight)`` pairs into a tuple one ``rng.choice`` draws from, ``ts``
draws a timestamp in a range, ``Pools`` holds the Faker-made names, companies and sentences the
row loops pick from (seeded by ``faker(seed)``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from faker import Faker

REFERENCE_TIME = datetime(2024, 12, 1, tzinfo=UTC)  # the "now" of the generated data


def dec(cents: int) -> str:
    """Integer cents → a numeric literal ('-12.05')."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID string drawn from ``rng`` (deterministic, unlike uuid4)."""
    h = f"{(rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def expand(pairs) -> tuple:
    """``((value, weight), …)`` → a tuple with each value repeated ``weight`` times, so a weighted
    draw is one ``rng.choice`` (much cheaper than ``rng.choices`` in the row loops)."""
    return tuple(p[0] if len(p) == 2 else p for p in pairs for _ in range(p[-1]))


def ts(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    span = max(1, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=rng.randrange(span))


def faker(seed: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


class Pools:
    """Faker-made pools the row loops pick from (a Faker call per row is too slow)."""

    def __init__(self, seed: int) -> None:
        fake = faker(seed)
        self.first = [fake.first_name() for _ in range(600)]
        self.last = [fake.last_name() for _ in range(800)]
        self.user_agents = [fake.user_agent() for _ in range(80)]
        self.sentences = [fake.sentence(nb_words=10) for _ in range(200)]
        self.companies = []
        while len(self.companies) < 64:
            name = fake.company()
            if name not in self.companies:
                self.companies.append(name)
        self.cities = [fake.city() for _ in range(100)]
