"""The saas churn workload (``demo.workload`` of ``saas/defs.yaml``): business operations on a
multi-tenant shop's customers, orders, events, products, subscriptions and invoices, run by
``lakehouse.source.churn``.

- Primary-key updates where nothing references the row: ``core_event.id`` and
  ``core_orderitem.id``.
- Deletes: children are deleted or set to NULL explicitly first, as Django does; customers are
  only deleted when nothing references them (no orders, subscriptions or invoices).
- An order's subtotal/tax/total are recomputed in SQL after its items change.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
from psycopg.types.json import Jsonb

from lakehouse.source.churn import Recent, Tx, Workload, recent_keys

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
        self.customers = recent_keys(
            conn, "select id, tenant_id from core_customer order by created_at desc"
        )
        self.orders = recent_keys(conn, "select id from core_order order by created_at desc")
        self.items = recent_keys(conn, "select id from core_orderitem order by created_at desc")
        self.events = recent_keys(conn, "select id from core_event order by created_at desc")
        self.subscriptions = recent_keys(
            conn,
            "select id, tenant_id, customer_id from core_subscription order by created_at desc",
        )
        self.invoices = recent_keys(conn, "select id from core_invoice order by created_at desc")

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
