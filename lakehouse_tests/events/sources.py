"""The shipped event sources, as the tests use them (declared in
``lakehouse/datasets/events/defs.yaml``)."""

from lakehouse.events.schemas import get_source

IOT_SENSORS = get_source("iot_sensors")
APP_EVENTS = get_source("app_events")
