-- autocorp (seed 002): the source PostgreSQL schema. Idempotent (create ... if not exists);
-- lakehouse.source.seed drops the tables first when it reseeds. Must match defs.yaml.

create table if not exists auto_parts (
    sku            varchar(50) primary key,
    name           varchar(255) not null,
    description    text,
    inventory_date date,
    vendor         varchar(255),
    price          numeric(10,2)
);

create table if not exists customers (
    customer_id serial primary key,
    first_name  varchar(100) not null,
    last_name   varchar(100) not null,
    email       varchar(200) not null unique,
    phone       varchar(20),
    address     varchar(300),
    city        varchar(100),
    state       varchar(50),
    zip_code    varchar(20),
    created_at  timestamp default current_timestamp
);

create table if not exists service (
    serviceid     varchar(50) primary key,
    service       varchar(200),
    category      varchar(50),
    labor_minutes integer,
    labor_cost    money
);

create table if not exists service_parts (
    service_part_id serial primary key,
    serviceid       varchar(50) not null references service (serviceid),
    sku             varchar(50) not null,
    quantity        integer default 1,
    created_at      timestamp default current_timestamp,
    unique (serviceid, sku)
);

create table if not exists sales_order (
    order_id       serial primary key,
    customer_id    integer not null,
    order_date     timestamp not null,
    invoice_number varchar(50) not null unique,
    payment_method varchar(50),
    subtotal       numeric(12,2),
    tax            numeric(12,2) default 0,
    total_amount   numeric(12,2) not null,
    order_type     varchar(20) check (order_type in ('Parts', 'Service', 'Mixed')),
    status         varchar(50) default 'Completed',
    notes          text,
    created_at     timestamp default current_timestamp,
    updated_at     timestamp default current_timestamp
);

create table if not exists sales_order_parts (
    line_item_id     serial primary key,
    order_id         integer references sales_order (order_id) on delete cascade,
    part_id          integer,
    sku              varchar(50),
    part_description varchar(200),
    quantity         integer check (quantity > 0),
    unit_price       numeric(10,2),
    line_total       numeric(12,2),
    created_at       timestamp default current_timestamp
);

create table if not exists sales_order_services (
    line_item_id        serial primary key,
    order_id            integer references sales_order (order_id) on delete cascade,
    serviceid           varchar(50) references service (serviceid),
    service_description varchar(200),
    quantity            integer default 1 check (quantity > 0),
    labor_minutes       integer,
    labor_cost          numeric(10,2),
    parts_cost          numeric(10,2) default 0,
    line_total          numeric(12,2),
    vehicle_id          integer,
    technician_id       integer,
    service_status      varchar(50) default 'Completed',
    created_at          timestamp default current_timestamp
);

create index if not exists sales_order_customer_id_idx on sales_order (customer_id);
create index if not exists sales_order_parts_order_id_idx on sales_order_parts (order_id);
create index if not exists sales_order_services_order_id_idx on sales_order_services (order_id);
create index if not exists sales_order_parts_sku_idx on sales_order_parts (sku);
create index if not exists service_parts_sku_idx on service_parts (sku);
