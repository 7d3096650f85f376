-- saas (seeds 000/001): the Django `core` app's tables. Idempotent (create ... if not exists);
-- lakehouse.source.seed drops the tables first when it reseeds. Must match defs.yaml.
-- updated_at is set by the application on every update (Django auto_now), not by a trigger.

create table if not exists core_tenant (
    id         uuid primary key default gen_random_uuid(),
    name       varchar(255) not null unique,
    slug       varchar(100) not null unique,
    domain     varchar(255),
    is_active  boolean not null default true,
    settings   jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table if not exists core_customer (
    id         uuid primary key default gen_random_uuid(),
    tenant_id  uuid not null references core_tenant (id),
    email      varchar(254) not null,
    first_name varchar(100) not null,
    last_name  varchar(100) not null,
    phone      varchar(50),
    is_active  boolean not null default true,
    metadata   jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (tenant_id, email)
);

create table if not exists core_product (
    id             uuid primary key default gen_random_uuid(),
    tenant_id      uuid not null references core_tenant (id),
    sku            varchar(100) not null,
    name           varchar(255) not null,
    description    text not null default '',
    category       varchar(100) not null,
    price          numeric(10,2) not null check (price >= 0.01),
    cost           numeric(10,2) not null check (cost >= 0),
    stock_quantity integer not null default 0 check (stock_quantity >= 0),
    is_active      boolean not null default true,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create table if not exists core_order (
    id           uuid primary key default gen_random_uuid(),
    tenant_id    uuid not null references core_tenant (id),
    customer_id  uuid not null references core_customer (id),
    order_number varchar(50) not null unique,
    status       varchar(20) not null default 'pending'
                 check (status in ('pending', 'processing', 'completed', 'cancelled')),
    subtotal     numeric(10,2) not null check (subtotal >= 0),
    tax          numeric(10,2) not null check (tax >= 0),
    shipping     numeric(10,2) not null check (shipping >= 0),
    total        numeric(10,2) not null check (total >= 0),
    order_date   timestamptz not null,
    completed_at timestamptz,
    metadata     jsonb not null default '{}'::jsonb,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create table if not exists core_orderitem (
    id         uuid primary key default gen_random_uuid(),
    tenant_id  uuid not null references core_tenant (id),
    order_id   uuid not null references core_order (id),
    product_id uuid not null references core_product (id),
    quantity   integer not null check (quantity >= 1),
    unit_price numeric(10,2) not null check (unit_price >= 0),
    discount   numeric(10,2) not null default 0 check (discount >= 0),
    total      numeric(10,2) not null check (total >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table if not exists core_event (
    id          uuid primary key default gen_random_uuid(),
    tenant_id   uuid not null references core_tenant (id),
    customer_id uuid references core_customer (id) on delete set null,
    event_type  varchar(50) not null
                check (event_type in ('page_view', 'product_view', 'search', 'add_to_cart',
                                      'remove_from_cart', 'checkout', 'purchase', 'click')),
    event_data  jsonb not null default '{}'::jsonb,
    session_id  varchar(100) not null,
    ip_address  inet,
    user_agent  text not null default '',
    created_at  timestamptz not null default now()
);

create table if not exists core_subscription (
    id             uuid primary key default gen_random_uuid(),
    tenant_id      uuid not null references core_tenant (id),
    customer_id    uuid not null references core_customer (id),
    plan_name      varchar(100) not null,
    status         varchar(20) not null default 'trial'
                   check (status in ('trial', 'active', 'cancelled', 'expired')),
    start_date     date not null,
    end_date       date,
    monthly_amount numeric(10,2) not null check (monthly_amount >= 0),
    billing_cycle  varchar(20) not null default 'monthly'
                   check (billing_cycle in ('monthly', 'yearly')),
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);

create table if not exists core_invoice (
    id              uuid primary key default gen_random_uuid(),
    tenant_id       uuid not null references core_tenant (id),
    customer_id     uuid not null references core_customer (id),
    subscription_id uuid references core_subscription (id) on delete set null,
    invoice_number  varchar(50) not null unique,
    amount          numeric(10,2) not null check (amount >= 0),
    status          varchar(20) not null default 'draft'
                    check (status in ('draft', 'sent', 'paid', 'overdue', 'cancelled')),
    issue_date      date not null,
    due_date        date not null,
    paid_date       date,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- Django indexes every ForeignKey column.
create index if not exists core_customer_tenant_id_idx on core_customer (tenant_id);
create index if not exists core_product_tenant_id_idx on core_product (tenant_id);
create index if not exists core_order_tenant_id_idx on core_order (tenant_id);
create index if not exists core_order_customer_id_idx on core_order (customer_id);
create index if not exists core_orderitem_tenant_id_idx on core_orderitem (tenant_id);
create index if not exists core_orderitem_order_id_idx on core_orderitem (order_id);
create index if not exists core_orderitem_product_id_idx on core_orderitem (product_id);
create index if not exists core_event_tenant_id_idx on core_event (tenant_id);
create index if not exists core_event_customer_id_idx on core_event (customer_id);
create index if not exists core_subscription_tenant_id_idx on core_subscription (tenant_id);
create index if not exists core_subscription_customer_id_idx on core_subscription (customer_id);
create index if not exists core_invoice_tenant_id_idx on core_invoice (tenant_id);
create index if not exists core_invoice_customer_id_idx on core_invoice (customer_id);
create index if not exists core_invoice_subscription_id_idx on core_invoice (subscription_id);
