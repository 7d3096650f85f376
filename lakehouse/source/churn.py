"""A change workload on a seeded source database: inserts, updates, deletes, key changes.

Data contract:
- Work comes in multi-statement transactions of 2–6 *operations* (an operation is one business
  action: "place an order with its lines", "advance an order", "change a SKU", …; several
  statements each). Transaction number n (1-based) with ``n % 20 == 0`` is rolled back on purpose
  (5 %); an operation that fails unexpectedly aborts its transaction (counted in ``failed``).
- Rows are picked with a skew toward the newest (an exponential draw over the ~2,000 most recent
  keys of a table, mean ≈ 1/20 of them), so recent rows change much more than old ones.
- Primary-key updates (``pk_updates``), where no foreign key blocks them:
  autocorp ``auto_parts.sku`` (``service_parts.sku`` and ``sales_order_parts.sku`` carry no FK;
  they are repointed in the same transaction) and ``sales_order_parts.line_item_id`` (a new serial
  value); saas ``core_event.id`` and ``core_orderitem.id`` (nothing references them).
- Deletes keep referential rules true: cascades are counted (autocorp order lines go with their
  order through ``ON DELETE CASCADE``; the rows are counted before), saas children are deleted or
  set to NULL explicitly first, as Django does; customers are only deleted when nothing
  references them (no orders, and in saas no subscriptions/invoices).
- Totals stay consistent: an order's subtotal/tax/total are recomputed in SQL after its lines change.
- ``ChurnStats`` counts *committed* row changes from each statement's rowcount (so they match the
  database): ``inserts``/``updates``/``deletes``/``pk_updates`` per table (a primary-key update is
  counted in ``pk_updates`` only). Hence, per table, ``inserts − deletes`` = the change of
  ``count(*)``. Updates by ``updated_at`` touch-ups after an insert in the same transaction count
  as updates (they are real UPDATE statements in the WAL).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

ROLLBACK_EVERY = 20
RECENT_KEYS = 2_000


@dataclass
class ChurnStats:
    """Committed row changes per table and transaction outcomes (see the module docstring)."""

    inserts: Counter = field(default_factory=Counter)
    updates: Counter = field(default_factory=Counter)
    deletes: Counter = field(default_factory=Counter)
    pk_updates: Counter = field(default_factory=Counter)
    transactions: int = 0  # committed
    rolled_back: int = 0  # deliberately rolled back
    failed: int = 0  # aborted by an unexpected error (and rolled back)
    errors: list = field(default_factory=list)  # the first few unexpected errors

    def merge(self, other: ChurnStats) -> None:
        for name in ("inserts", "updates", "deletes", "pk_updates"):
            getattr(self, name).update(getattr(other, name))

    @property
    def changes(self) -> int:
        """All committed row changes."""
        return sum(
            sum(c.values()) for c in (self.inserts, self.updates, self.deletes, self.pk_updates)
        )

    def net(self, table: str) -> int:
        """Committed ``inserts − deletes`` of ``table`` (= its change of ``count(*)``)."""
        return self.inserts[table] - self.deletes[table]


class Recent:
    """The newest keys of a table, oldest first; ``pick`` is skewed toward the end."""

    def __init__(self, keys: list) -> None:
        self.keys = list(keys)

    def pick(self, rng: random.Random, avoid: set | None = None):
        for _ in range(8):
            if not self.keys:
                return None
            back = int(rng.expovariate(1.0) * max(1.0, len(self.keys) / 20))
            key = self.keys[-1 - min(back, len(self.keys) - 1)]
            if not avoid or key not in avoid:
                return key
        return None

    def add(self, key) -> None:
        self.keys.append(key)

    def discard(self, key) -> None:
        if key in self.keys:
            self.keys.remove(key)

    def replace(self, old, new) -> None:
        if old in self.keys:
            self.keys[self.keys.index(old)] = new


class Tx:
    """One transaction's statements, row counts and deferred key-cache updates."""

    def __init__(self, conn: psycopg.Connection, rng: random.Random) -> None:
        self.conn = conn
        self.rng = rng
        self.stats = ChurnStats()
        self.gone: defaultdict[str, set] = defaultdict(set)  # table → keys deleted/renamed here
        self._on_commit: list = []

    def run(self, query: str, params=None, *, kind: str | None = None, table: str | None = None):
        cur = self.conn.execute(query, params)
        if kind:
            getattr(self.stats, kind)[table] += max(cur.rowcount, 0)
        return cur

    def one(self, query: str, params=None, **kw):
        row = self.run(query, params, **kw).fetchone()
        return row[0] if row else None

    def later(self, fn, *args) -> None:
        """Apply a key-cache change when (and only if) the transaction commits."""
        self._on_commit.append((fn, args))

    def commit_caches(self) -> None:
        for fn, args in self._on_commit:
            fn(*args)


def _recent(conn: psycopg.Connection, query: str) -> Recent:
    """Keys from ``query`` (newest first, at most RECENT_KEYS) as a ``Recent`` (oldest first)."""
    rows = conn.execute(f"{query} limit {RECENT_KEYS}").fetchall()
    return Recent([r[0] if len(r) == 1 else tuple(r) for r in reversed(rows)])


class Workload:
    """Weighted operations on one dataset; each operation is a method taking a ``Tx``."""

    OPS: tuple[tuple[str, int], ...] = ()

    def __init__(self, conn: psycopg.Connection, seed: int) -> None:
        from faker import Faker

        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self._names = [op for op, _ in self.OPS]
        self._weights = [w for _, w in self.OPS]

    def step(self, tx: Tx) -> None:
        getattr(self, tx.rng.choices(self._names, self._weights)[0])(tx)


# --- autocorp ------------------------------------------------------------------------------------

_AUTOCORP_RECOMPUTE = """
update sales_order o set subtotal = s.sub, tax = round(s.sub * 0.0825, 2),
       total_amount = s.sub + round(s.sub * 0.0825, 2), updated_at = localtimestamp
from (select coalesce((select sum(line_total) from sales_order_parts where order_id = %(id)s), 0)
           + coalesce((select sum(line_total) from sales_order_services where order_id = %(id)s), 0)
           as sub) s
where o.order_id = %(id)s
"""


class AutocorpWorkload(Workload):
    OPS = (
        ("new_order", 20), ("update_order", 18), ("update_order_line", 8), ("delete_order", 4),
        ("delete_order_line", 3), ("new_customer", 10), ("update_customer", 12),
        ("delete_customer", 3), ("update_part", 6), ("new_part", 2), ("update_service", 2),
        ("new_service_part", 2), ("delete_service_part", 2), ("change_sku", 3),
        ("renumber_line", 3),
    )  # fmt: skip

    def __init__(self, conn: psycopg.Connection, seed: int) -> None:
        super().__init__(conn, seed)
        self.customers = _recent(
            conn, "select customer_id from customers order by customer_id desc"
        )
        self.orders = _recent(conn, "select order_id from sales_order order by order_id desc")
        self.part_lines = _recent(
            conn, "select line_item_id from sales_order_parts order by line_item_id desc"
        )
        self.parts = _recent(conn, "select sku from auto_parts order by inventory_date desc, sku")
        self.services = [r[0] for r in conn.execute("select serviceid from service order by 1")]
        self.service_parts = _recent(
            conn, "select service_part_id from service_parts order by service_part_id desc"
        )

    def new_customer(self, tx: Tx) -> None:
        f, rng = self.fake, tx.rng
        first, last = f.first_name(), f.last_name()
        email = f"{first}.{last}.{rng.randrange(10**9)}@{rng.choice(('gmail.com', 'yahoo.com', 'outlook.com'))}".lower()
        cid = tx.one(
            "insert into customers (first_name, last_name, email, phone, address, city, state,"
            " zip_code, created_at) values (%s,%s,%s,%s,%s,%s,%s,%s, localtimestamp)"
            " returning customer_id",
            (first, last, email, f"({rng.randrange(201, 990)}) {rng.randrange(200, 1000)}-"
             f"{rng.randrange(10_000):04d}", f.street_address(), f.city(), f.state_abbr(),
             f.zipcode()),
            kind="inserts", table="customers",
        )  # fmt: skip
        tx.later(self.customers.add, cid)

    def update_customer(self, tx: Tx) -> None:
        cid = self.customers.pick(tx.rng, tx.gone["customers"])
        f = self.fake
        change = tx.rng.choice(("address", "email", "phone"))
        if change == "address":
            q = "update customers set address = %s, city = %s, state = %s, zip_code = %s where customer_id = %s"
            params = (f.street_address(), f.city(), f.state_abbr(), f.zipcode(), cid)
        elif change == "email":
            q = "update customers set email = lower(first_name || '.' || last_name || '.' || %s || '@proton.me') where customer_id = %s"
            params = (tx.rng.randrange(10**9), cid)
        else:
            q = "update customers set phone = %s where customer_id = %s"
            params = (
                f"{tx.rng.randrange(201, 990)}-{tx.rng.randrange(200, 1000)}-{tx.rng.randrange(10_000):04d}",
                cid,
            )
        tx.run(q, params, kind="updates", table="customers")

    def delete_customer(self, tx: Tx) -> None:
        cid = self.customers.pick(tx.rng, tx.gone["customers"])
        n = tx.run(
            "delete from customers c where customer_id = %s and not exists"
            " (select 1 from sales_order o where o.customer_id = c.customer_id)",
            (cid,), kind="deletes", table="customers",
        ).rowcount  # fmt: skip
        if n:
            tx.gone["customers"].add(cid)
            tx.later(self.customers.discard, cid)

    def _part_line(self, tx: Tx, order_id: int) -> None:
        sku = self.parts.pick(tx.rng, tx.gone["auto_parts"])
        tx.run(
            "insert into sales_order_parts (order_id, sku, part_description, quantity, unit_price,"
            " line_total, created_at) select %(o)s, sku, left(name, 200), %(q)s, price,"
            " price * %(q)s, localtimestamp from auto_parts where sku = %(s)s",
            {"o": order_id, "q": tx.rng.choice((1, 1, 1, 2, 4)), "s": sku},
            kind="inserts", table="sales_order_parts",
        )  # fmt: skip

    def _service_line(self, tx: Tx, order_id: int) -> None:
        tx.run(
            "insert into sales_order_services (order_id, serviceid, service_description, quantity,"
            " labor_minutes, labor_cost, parts_cost, line_total, vehicle_id, technician_id,"
            " service_status, created_at) select %(o)s, serviceid, service, 1, labor_minutes,"
            " labor_cost::numeric, %(p)s::numeric, labor_cost::numeric + %(p)s::numeric, %(v)s, %(t)s, 'In Progress',"
            " localtimestamp from service where serviceid = %(s)s",
            {"o": order_id, "p": tx.rng.choice((0, 0, 24.99, 89.5)), "v": tx.rng.randrange(1, 5_000),
             "t": tx.rng.randrange(1, 26), "s": tx.rng.choice(self.services)},
            kind="inserts", table="sales_order_services",
        )  # fmt: skip

    def new_order(self, tx: Tx) -> None:
        cid = self.customers.pick(tx.rng, tx.gone["customers"])
        if cid is None:
            return
        kind = tx.rng.choices(("Parts", "Service", "Mixed"), (55, 25, 20))[0]
        oid = tx.one(
            "insert into sales_order (customer_id, order_date, invoice_number, payment_method,"
            " subtotal, tax, total_amount, order_type, status, created_at, updated_at)"
            " values (%s, localtimestamp, %s, %s, 0, 0, 0, %s, 'Pending', localtimestamp,"
            " localtimestamp) returning order_id",
            (cid, f"INV-C{tx.rng.getrandbits(48):012X}", tx.rng.choice(("Credit Card", "Cash", "Debit Card")), kind),
            kind="inserts", table="sales_order",
        )  # fmt: skip
        if kind != "Service":
            for _ in range(tx.rng.randint(1, 4)):
                self._part_line(tx, oid)
        if kind != "Parts":
            for _ in range(tx.rng.randint(1, 2)):
                self._service_line(tx, oid)
        tx.run(_AUTOCORP_RECOMPUTE, {"id": oid}, kind="updates", table="sales_order")
        tx.later(self.orders.add, oid)

    def update_order(self, tx: Tx) -> None:
        oid = self.orders.pick(tx.rng, tx.gone["sales_order"])
        status = tx.rng.choices(("Completed", "Cancelled", "Refunded", "Pending"), (80, 8, 4, 8))[0]
        note = tx.rng.choice((None, "Customer called", "Warranty claim", "Parts backordered"))
        tx.run(
            "update sales_order set status = %s, notes = coalesce(%s, notes),"
            " updated_at = localtimestamp where order_id = %s",
            (status, note, oid), kind="updates", table="sales_order",
        )  # fmt: skip

    def update_order_line(self, tx: Tx) -> None:
        line = self.part_lines.pick(tx.rng, tx.gone["sales_order_parts"])
        oid = tx.one(
            "update sales_order_parts set quantity = quantity + 1, line_total = (quantity + 1) *"
            " unit_price where line_item_id = %s returning order_id",
            (line,), kind="updates", table="sales_order_parts",
        )  # fmt: skip
        if oid is not None:
            tx.run(_AUTOCORP_RECOMPUTE, {"id": oid}, kind="updates", table="sales_order")

    def delete_order_line(self, tx: Tx) -> None:
        line = self.part_lines.pick(tx.rng, tx.gone["sales_order_parts"])
        oid = tx.one(
            "delete from sales_order_parts p where line_item_id = %s and (select count(*) from"
            " sales_order_parts q where q.order_id = p.order_id) > 1 returning order_id",
            (line,), kind="deletes", table="sales_order_parts",
        )  # fmt: skip
        if oid is not None:
            tx.gone["sales_order_parts"].add(line)
            tx.later(self.part_lines.discard, line)
            tx.run(_AUTOCORP_RECOMPUTE, {"id": oid}, kind="updates", table="sales_order")

    def delete_order(self, tx: Tx) -> None:
        oid = self.orders.pick(tx.rng, tx.gone["sales_order"])
        parts, services = tx.conn.execute(
            "select (select count(*) from sales_order_parts where order_id = %(o)s),"
            " (select count(*) from sales_order_services where order_id = %(o)s)",
            {"o": oid},
        ).fetchone()
        if tx.run(
            "delete from sales_order where order_id = %s",
            (oid,),
            kind="deletes",
            table="sales_order",
        ).rowcount:
            tx.stats.deletes["sales_order_parts"] += parts  # ON DELETE CASCADE
            tx.stats.deletes["sales_order_services"] += services
            tx.gone["sales_order"].add(oid)
            tx.later(self.orders.discard, oid)

    def update_part(self, tx: Tx) -> None:
        sku = self.parts.pick(tx.rng, tx.gone["auto_parts"])
        tx.run(
            "update auto_parts set price = greatest(0.99, round(price * %s::numeric, 2)),"
            " inventory_date = current_date where sku = %s",
            (tx.rng.choice((0.9, 0.95, 1.05, 1.1)), sku), kind="updates", table="auto_parts",
        )  # fmt: skip

    def new_part(self, tx: Tx) -> None:
        prefix = tx.rng.choice(("ENG", "BRK", "SUS", "ELE", "FLD"))
        sku = f"{prefix}-N{tx.rng.randrange(10**7):07d}"
        n = tx.run(
            "insert into auto_parts (sku, name, description, inventory_date, vendor, price)"
            " values (%s, %s, %s, current_date, %s, %s) on conflict do nothing",
            (sku, f"{tx.rng.choice(('Bosch', 'Denso', 'Gates'))} {self.fake.word().title()} Kit",
             "New stock item", tx.rng.choice(("AutoZone", "RockAuto", "NAPA Auto Parts")),
             tx.rng.randrange(500, 30_000) / 100),
            kind="inserts", table="auto_parts",
        ).rowcount  # fmt: skip
        if n:
            tx.later(self.parts.add, sku)

    def update_service(self, tx: Tx) -> None:
        tx.run(
            "update service set labor_cost = (labor_cost::numeric * %s::numeric)::numeric(10,2)::money"
            " where serviceid = %s",
            (tx.rng.choice((1.03, 1.05)), tx.rng.choice(self.services)),
            kind="updates", table="service",
        )  # fmt: skip

    def new_service_part(self, tx: Tx) -> None:
        sku = self.parts.pick(tx.rng, tx.gone["auto_parts"])
        spid = tx.one(
            "insert into service_parts (serviceid, sku, quantity) values (%s, %s, 1)"
            " on conflict do nothing returning service_part_id",
            (tx.rng.choice(self.services), sku), kind="inserts", table="service_parts",
        )  # fmt: skip
        if spid is not None:
            tx.later(self.service_parts.add, spid)

    def delete_service_part(self, tx: Tx) -> None:
        spid = self.service_parts.pick(tx.rng, tx.gone["service_parts"])
        if tx.run(
            "delete from service_parts where service_part_id = %s",
            (spid,),
            kind="deletes",
            table="service_parts",
        ).rowcount:
            tx.gone["service_parts"].add(spid)
            tx.later(self.service_parts.discard, spid)

    def change_sku(self, tx: Tx) -> None:
        """Primary-key update: a part is re-SKU'd; its (FK-less) references follow in the same tx."""
        old = self.parts.pick(tx.rng, tx.gone["auto_parts"])
        new = f"{old.split('-')[0]}-R{tx.rng.randrange(10**7):07d}"
        if tx.run(
            "update auto_parts set sku = %s where sku = %s",
            (new, old),
            kind="pk_updates",
            table="auto_parts",
        ).rowcount:
            tx.run(
                "update service_parts set sku = %s where sku = %s",
                (new, old),
                kind="updates",
                table="service_parts",
            )
            tx.run(
                "update sales_order_parts set sku = %s where sku = %s",
                (new, old),
                kind="updates",
                table="sales_order_parts",
            )
            tx.gone["auto_parts"].add(old)
            tx.later(self.parts.replace, old, new)

    def renumber_line(self, tx: Tx) -> None:
        """Primary-key update: a parts line gets a new serial id (nothing references lines)."""
        old = self.part_lines.pick(tx.rng, tx.gone["sales_order_parts"])
        new = tx.one(
            "update sales_order_parts set line_item_id ="
            " nextval(pg_get_serial_sequence('sales_order_parts', 'line_item_id'))"
            " where line_item_id = %s returning line_item_id",
            (old,), kind="pk_updates", table="sales_order_parts",
        )  # fmt: skip
        if new is not None:
            tx.gone["sales_order_parts"].add(old)
            tx.later(self.part_lines.replace, old, new)


# --- saas ----------------------------------------------------------------------------------------

_SAAS_RECOMPUTE = """
update core_order o set subtotal = s.sub,
       tax = round(s.sub * coalesce((t.settings ->> 'tax_rate')::numeric, 0), 2),
       total = s.sub + round(s.sub * coalesce((t.settings ->> 'tax_rate')::numeric, 0), 2)
               + o.shipping,
       updated_at = now()
from (select coalesce(sum(total), 0) as sub from core_orderitem where order_id = %(id)s) s,
     core_tenant t
where o.id = %(id)s and t.id = o.tenant_id
"""
_PLANS = (("Starter", 9), ("Basic", 19), ("Pro", 49), ("Business", 99), ("Enterprise", 249))


class SaasWorkload(Workload):
    OPS = (
        ("new_customer", 8), ("update_customer", 10), ("delete_customer", 2), ("new_order", 16),
        ("advance_order", 16), ("update_item", 4), ("delete_order", 3), ("new_events", 14),
        ("update_product", 4), ("change_subscription", 6), ("new_subscription", 3),
        ("delete_subscription", 1), ("update_invoice", 6), ("new_invoice", 4),
        ("delete_invoice", 2), ("rekey_event", 3), ("rekey_item", 3),
    )  # fmt: skip

    def __init__(self, conn: psycopg.Connection, seed: int) -> None:
        super().__init__(conn, seed)
        self.tenants = [r[0] for r in conn.execute("select id from core_tenant order by name")]
        self.products: dict = defaultdict(list)
        for pid, tid in conn.execute("select id, tenant_id from core_product order by sku"):
            self.products[tid].append(pid)
        self.customers = _recent(
            conn, "select id, tenant_id from core_customer order by created_at desc"
        )
        self.orders = _recent(conn, "select id from core_order order by created_at desc")
        self.items = _recent(conn, "select id from core_orderitem order by created_at desc")
        self.events = _recent(conn, "select id from core_event order by created_at desc")
        self.subscriptions = _recent(
            conn,
            "select id, tenant_id, customer_id from core_subscription order by created_at desc",
        )
        self.invoices = _recent(conn, "select id from core_invoice order by created_at desc")

    def _customer(self, tx: Tx):
        return self.customers.pick(tx.rng, tx.gone["core_customer"])

    def new_customer(self, tx: Tx) -> None:
        f, rng = self.fake, tx.rng
        first, last = f.first_name(), f.last_name()
        tid = rng.choice(self.tenants)
        cid = tx.one(
            "insert into core_customer (tenant_id, email, first_name, last_name, phone, is_active,"
            " metadata) values (%s, %s, %s, %s, %s, true, %s) returning id",
            (tid, f"{first}.{last}.{rng.randrange(10**9)}@example.org".lower(), first, last,
             f"({rng.randrange(201, 990)}) {rng.randrange(200, 1000)}-{rng.randrange(10_000):04d}",
             Jsonb({"source": rng.choice(("organic", "referral")), "marketing_opt_in": True})),
            kind="inserts", table="core_customer",
        )  # fmt: skip
        tx.later(self.customers.add, (cid, tid))

    def update_customer(self, tx: Tx) -> None:
        key = self._customer(tx)
        if key is None:
            return
        change = tx.rng.choice(("phone", "last_name", "metadata", "is_active"))
        sets = {
            "phone": (
                "phone = %s",
                f"+1-{tx.rng.randrange(201, 990)}-555-{tx.rng.randrange(10_000):04d}",
            ),
            "last_name": ("last_name = %s", self.fake.last_name()),
            "metadata": ("metadata = metadata || %s::jsonb", Jsonb({"loyalty_tier": "gold"})),
            "is_active": ("is_active = not is_active", None),
        }[change]
        params = (sets[1], key[0]) if sets[1] is not None else (key[0],)
        tx.run(
            f"update core_customer set {sets[0]}, updated_at = now() where id = %s",
            params, kind="updates", table="core_customer",
        )  # fmt: skip

    def delete_customer(self, tx: Tx) -> None:
        key = self._customer(tx)
        if key is None or not tx.one(
            "select not exists (select 1 from core_order where customer_id = %(c)s)"
            " and not exists (select 1 from core_subscription where customer_id = %(c)s)"
            " and not exists (select 1 from core_invoice where customer_id = %(c)s)",
            {"c": key[0]},
        ):
            return
        tx.run(
            "update core_event set customer_id = null where customer_id = %s",
            (key[0],),
            kind="updates",
            table="core_event",
        )
        tx.run(
            "delete from core_customer where id = %s",
            (key[0],),
            kind="deletes",
            table="core_customer",
        )
        tx.gone["core_customer"].add(key)
        tx.later(self.customers.discard, key)

    def new_order(self, tx: Tx) -> None:
        key = self._customer(tx)
        if key is None or not self.products[key[1]]:
            return
        cid, tid = key
        oid = tx.one(
            "insert into core_order (tenant_id, customer_id, order_number, status, subtotal, tax,"
            " shipping, total, order_date, metadata) values (%s, %s, %s, 'pending', 0, 0, %s, 0,"
            " now(), %s) returning id",
            (tid, cid, f"ORD-C{tx.rng.getrandbits(48):012X}", tx.rng.choice((0, 4.99, 5.99)),
             Jsonb({"channel": tx.rng.choice(("web", "mobile_app"))})),
            kind="inserts", table="core_order",
        )  # fmt: skip
        products = self.products[tid]
        for pid in tx.rng.sample(products, min(len(products), tx.rng.randint(1, 4))):
            iid = tx.one(
                "insert into core_orderitem (tenant_id, order_id, product_id, quantity, unit_price,"
                " discount, total) select tenant_id, %(o)s, id, %(q)s, price, 0, price * %(q)s"
                " from core_product"
                " where id = %(p)s returning id",
                {"o": oid, "q": tx.rng.choice((1, 1, 2, 3)), "p": pid},
                kind="inserts", table="core_orderitem",
            )  # fmt: skip
            tx.later(self.items.add, iid)
        tx.run(_SAAS_RECOMPUTE, {"id": oid}, kind="updates", table="core_order")
        tx.later(self.orders.add, oid)

    def advance_order(self, tx: Tx) -> None:
        oid = self.orders.pick(tx.rng, tx.gone["core_order"])
        if tx.rng.random() < 0.1:
            q = "update core_order set status = 'cancelled', updated_at = now() where id = %s and status = 'pending'"
        else:
            q = (
                "update core_order set status = case status when 'pending' then 'processing'"
                " else 'completed' end, completed_at = case when status = 'processing' then now()"
                " end, updated_at = now() where id = %s and status in ('pending', 'processing')"
            )
        if not tx.run(q, (oid,), kind="updates", table="core_order").rowcount:
            tx.run(
                "update core_order set metadata = metadata || '{\"support_ticket\": true}',"
                " updated_at = now() where id = %s",
                (oid,), kind="updates", table="core_order",
            )  # fmt: skip

    def update_item(self, tx: Tx) -> None:
        iid = self.items.pick(tx.rng, tx.gone["core_orderitem"])
        oid = tx.one(
            "update core_orderitem set quantity = quantity + 1, total = (quantity + 1) * unit_price"
            " - discount, updated_at = now() where id = %s returning order_id",
            (iid,), kind="updates", table="core_orderitem",
        )  # fmt: skip
        if oid is not None:
            tx.run(_SAAS_RECOMPUTE, {"id": oid}, kind="updates", table="core_order")

    def delete_order(self, tx: Tx) -> None:
        oid = self.orders.pick(tx.rng, tx.gone["core_order"])
        items = [r[0] for r in tx.run(
            "delete from core_orderitem where order_id = %s returning id",
            (oid,), kind="deletes", table="core_orderitem",
        )]  # fmt: skip
        if tx.run(
            "delete from core_order where id = %s", (oid,), kind="deletes", table="core_order"
        ).rowcount:
            tx.gone["core_order"].add(oid)
            tx.later(self.orders.discard, oid)
        for iid in items:
            tx.gone["core_orderitem"].add(iid)
            tx.later(self.items.discard, iid)

    def new_events(self, tx: Tx) -> None:
        key = self._customer(tx)
        if key is None:
            return
        cid = None if tx.rng.random() < 0.1 else key[0]
        session = f"{tx.rng.getrandbits(128):032x}"
        ip = f"{tx.rng.randrange(11, 223)}.{tx.rng.randrange(256)}.{tx.rng.randrange(256)}.{tx.rng.randrange(1, 255)}"
        for _ in range(tx.rng.randint(1, 5)):
            kind = tx.rng.choice(
                (
                    "page_view",
                    "product_view",
                    "search",
                    "add_to_cart",
                    "click",
                    "checkout",
                    "purchase",
                )
            )
            eid = tx.one(
                "insert into core_event (tenant_id, customer_id, event_type, event_data,"
                " session_id, ip_address, user_agent) values (%s, %s, %s, %s, %s, %s, %s) returning id",
                (key[1], cid, kind, Jsonb({"url": "/" + kind.replace("_", "-")}), session, ip,
                 self.fake.user_agent()),
                kind="inserts", table="core_event",
            )  # fmt: skip
            tx.later(self.events.add, eid)

    def update_product(self, tx: Tx) -> None:
        products = self.products[tx.rng.choice(self.tenants)]
        if not products:
            return
        tx.run(
            "update core_product set price = greatest(0.01, round(price * %s::numeric, 2)),"
            " stock_quantity = greatest(0, stock_quantity + %s), updated_at = now() where id = %s",
            (tx.rng.choice((0.9, 1.0, 1.1)), tx.rng.randint(-5, 20), tx.rng.choice(products)),
            kind="updates", table="core_product",
        )  # fmt: skip

    def change_subscription(self, tx: Tx) -> None:
        key = self.subscriptions.pick(tx.rng, tx.gone["core_subscription"])
        if key is None:
            return
        plan, amount = tx.rng.choice(_PLANS)
        q, params = tx.rng.choice((
            ("status = 'active' where id = %s and status = 'trial'", (key[0],)),
            ("status = 'cancelled', end_date = current_date where id = %s and status in ('trial', 'active')", (key[0],)),
            ("plan_name = %s, monthly_amount = %s where id = %s and status = 'active'", (plan, amount, key[0])),
        ))  # fmt: skip
        tx.run(
            f"update core_subscription set updated_at = now(), {q}",
            params,
            kind="updates",
            table="core_subscription",
        )

    def new_subscription(self, tx: Tx) -> None:
        key = self._customer(tx)
        if key is None:
            return
        plan, amount = tx.rng.choice(_PLANS)
        sid = tx.one(
            "insert into core_subscription (tenant_id, customer_id, plan_name, status, start_date,"
            " monthly_amount, billing_cycle) values (%s, %s, %s, 'trial', current_date, %s, 'monthly')"
            " returning id",
            (key[1], key[0], plan, amount), kind="inserts", table="core_subscription",
        )  # fmt: skip
        iid = tx.one(
            "insert into core_invoice (tenant_id, customer_id, subscription_id, invoice_number,"
            " amount, status, issue_date, due_date) values (%s, %s, %s, %s, 0, 'draft',"
            " current_date, current_date + 14) returning id",
            (key[1], key[0], sid, f"INV-C{tx.rng.getrandbits(48):012X}"),
            kind="inserts", table="core_invoice",
        )  # fmt: skip
        tx.later(self.subscriptions.add, (sid, key[1], key[0]))
        tx.later(self.invoices.add, iid)

    def delete_subscription(self, tx: Tx) -> None:
        key = self.subscriptions.pick(tx.rng, tx.gone["core_subscription"])
        if key is None or tx.one(
            "select status from core_subscription where id = %s", (key[0],)
        ) not in ("cancelled", "expired"):
            return
        tx.run(
            "update core_invoice set subscription_id = null where subscription_id = %s",
            (key[0],),
            kind="updates",
            table="core_invoice",
        )
        tx.run(
            "delete from core_subscription where id = %s",
            (key[0],),
            kind="deletes",
            table="core_subscription",
        )
        tx.gone["core_subscription"].add(key)
        tx.later(self.subscriptions.discard, key)

    def update_invoice(self, tx: Tx) -> None:
        iid = self.invoices.pick(tx.rng, tx.gone["core_invoice"])
        tx.run(
            "update core_invoice set status = case status when 'draft' then 'sent' else 'paid' end,"
            " paid_date = case when status in ('sent', 'overdue') then current_date end,"
            " updated_at = now() where id = %s and status in ('draft', 'sent', 'overdue')",
            (iid,), kind="updates", table="core_invoice",
        )  # fmt: skip

    def new_invoice(self, tx: Tx) -> None:
        key = self.subscriptions.pick(tx.rng, tx.gone["core_subscription"])
        if key is None:
            return
        iid = tx.one(
            "insert into core_invoice (tenant_id, customer_id, subscription_id, invoice_number,"
            " amount, status, issue_date, due_date) select tenant_id, customer_id, id, %s,"
            " case billing_cycle when 'yearly' then round(monthly_amount * 12 * 0.85, 2)"
            " else monthly_amount end, 'sent', current_date, current_date + 14"
            " from core_subscription where id = %s and status = 'active' returning id",
            (f"INV-C{tx.rng.getrandbits(48):012X}", key[0]), kind="inserts", table="core_invoice",
        )  # fmt: skip
        if iid is not None:
            tx.later(self.invoices.add, iid)

    def delete_invoice(self, tx: Tx) -> None:
        iid = self.invoices.pick(tx.rng, tx.gone["core_invoice"])
        if tx.run(
            "delete from core_invoice where id = %s and status in ('draft', 'cancelled')",
            (iid,), kind="deletes", table="core_invoice",
        ).rowcount:  # fmt: skip
            tx.gone["core_invoice"].add(iid)
            tx.later(self.invoices.discard, iid)

    def _rekey(self, tx: Tx, table: str, cache: Recent) -> None:
        old = cache.pick(tx.rng, tx.gone[table])
        new = tx.one(
            f"update {table} set id = gen_random_uuid() where id = %s returning id",
            (old,), kind="pk_updates", table=table,
        )  # fmt: skip
        if new is not None:
            tx.gone[table].add(old)
            tx.later(cache.replace, old, new)

    def rekey_event(self, tx: Tx) -> None:
        """Primary-key update of an event (no foreign key references core_event)."""
        self._rekey(tx, "core_event", self.events)

    def rekey_item(self, tx: Tx) -> None:
        """Primary-key update of an order line (no foreign key references core_orderitem)."""
        self._rekey(tx, "core_orderitem", self.items)


# --- driver --------------------------------------------------------------------------------------


def workload_class(dataset: str) -> type:
    """The churn workload of a dataset with demo data (its declaration's ``demo.workload``,
    ``module:Class``)."""
    import importlib

    from lakehouse.source.seed import _demo

    module, _, name = _demo(dataset).decl.demo.workload.partition(":")
    return getattr(importlib.import_module(module), name)


class _Runner:
    def __init__(self, dsn: str, dataset: str, seed: int) -> None:
        workload = workload_class(dataset)  # validates the name
        self.conn = psycopg.connect(dsn)
        self.rng = random.Random(seed)
        self.workload = workload(self.conn, seed)
        self.conn.commit()
        self.stats = ChurnStats()
        self.number = 0

    def transaction(self) -> int:
        """Run one transaction; return its attempted row changes."""
        self.number += 1
        tx = Tx(self.conn, self.rng)
        try:
            for _ in range(self.rng.randint(2, 6)):
                self.workload.step(tx)
        except psycopg.Error as exc:
            self.conn.rollback()
            self.stats.failed += 1
            if len(self.stats.errors) < 10:
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
            return tx.stats.changes
        if self.number % ROLLBACK_EVERY == 0:
            self.conn.rollback()
            self.stats.rolled_back += 1
        else:
            self.conn.commit()
            tx.commit_caches()
            self.stats.merge(tx.stats)
            self.stats.transactions += 1
        return tx.stats.changes

    def close(self) -> None:
        self.conn.close()


def apply_random_changes(dsn: str, dataset: str, n_transactions: int, seed: int = 0) -> ChurnStats:
    """Run ``n_transactions`` churn transactions as fast as possible (see the module docstring)."""
    runner = _Runner(dsn, dataset, seed)
    try:
        for _ in range(n_transactions):
            runner.transaction()
    finally:
        runner.close()
    return runner.stats


def run_churn(
    dsn: str,
    dataset: str,
    *,
    rate: float,
    duration: float,
    seed: int = 0,
    progress: bool = False,
    max_changes: int | None = None,
) -> ChurnStats:
    """Churn at about ``rate`` row changes per second for ``duration`` seconds (or until
    ``max_changes`` committed changes); rolled-back changes count toward the pace."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    runner = _Runner(dsn, dataset, seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_changes or int(rate * duration), desc=f"churn {dataset}", unit="chg")
    start = time.monotonic()
    attempted = 0
    try:
        while time.monotonic() - start < duration:
            if max_changes is not None and runner.stats.changes >= max_changes:
                break
            before = runner.stats.changes
            attempted += runner.transaction()
            if bar is not None:
                bar.update(runner.stats.changes - before)
            ahead = start + attempted / rate - time.monotonic()
            if ahead > 0:
                time.sleep(min(ahead, max(0.0, duration - (time.monotonic() - start))))
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    return runner.stats
