"""The autocorp churn workload (``demo.workload`` of ``autocorp/defs.yaml``): business operations
on the shop's orders, lines, customers, parts and services, run by ``lakehouse.source.churn``.

- Primary-key updates where no foreign key blocks them: ``auto_parts.sku`` (``service_parts.sku``
  and ``sales_order_parts.sku`` carry no FK; they are repointed in the same transaction) and
  ``sales_order_parts.line_item_id`` (a new serial value).
- Deletes: order lines go with their order through ``ON DELETE CASCADE`` (the rows are counted
  before); customers are only deleted when no order references them.
- An order's subtotal/tax/total are recomputed in SQL after its lines change.
"""

from __future__ import annotations

import psycopg

from lakehouse.source.churn import Tx, Workload, recent_keys

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
        self.customers = recent_keys(
            conn, "select customer_id from customers order by customer_id desc"
        )
        self.orders = recent_keys(conn, "select order_id from sales_order order by order_id desc")
        self.part_lines = recent_keys(
            conn, "select line_item_id from sales_order_parts order by line_item_id desc"
        )
        self.parts = recent_keys(
            conn, "select sku from auto_parts order by inventory_date desc, sku"
        )
        self.services = [r[0] for r in conn.execute("select serviceid from service order by 1")]
        self.service_parts = recent_keys(
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
